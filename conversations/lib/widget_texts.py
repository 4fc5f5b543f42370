"""The widget's own texts, translated on the server and sent in the config and session answers.

Why not Django's JavaScriptCatalog: the widget already makes these two calls before it shows
anything, cross-origin and origin-checked; the texts ride along instead of costing a third
request (and a catalog URL to allow on every host page). widget.js keeps the English texts as
its defaults, so it still works against a server that sends none. Placeholders are Python's
`%(name)s`, which gettext checks in every translation; widget.js fills them in.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _

WIDGET_TEXTS = {
    "open_chat": _("Open chat"),
    "open_chat_unread": _("Open chat, %(count)s unread"),
    "close_chat": _("Close chat"),
    "chat": _("Chat"),
    "support": _("Support"),
    "bot_name": _("%(name)s bot"),
    "how_did_we_do": _("How did we do?"),
    "rate_conversation": _("Rate this conversation from 1 to 5"),
    "score_of_five": _("%(score)s out of 5"),
    "thanks_feedback": _("Thanks for your feedback!"),
    "thanks_telling": _("Thanks for telling us."),
    "csat_comment": _("Anything you'd like to add? (optional)"),
    "send_comment": _("Send comment"),
    "email_transcript": _("Email me this conversation"),
    "transcript_sent": _("On its way to your inbox."),
    "send": _("Send"),
    "talk_to_human": _("Talk to a human"),
    "write_message": _("Write a message…"),
    "message": _("Message"),
    "send_message": _("Send message"),
    "composer_hint": _("Enter to send · Shift+Enter for a new line"),
    "too_long": _("Messages can be at most %(count)s characters."),
    "connecting": _("Connecting…"),
    "unavailable": _("Chat is unavailable: %(reason)s"),
    "unavailable_here": _("Chat is unavailable on this website."),
    "offline": _("You're offline. Your messages will be sent when the connection is back."),
    "reconnecting": _("Reconnecting…"),
    "not_sent": _("That message could not be sent."),
    "action_label": _("Confirm this change"),
    "action_proposed": _("Waiting for your confirmation"),
    "action_executing": _("Working on it…"),
    "action_succeeded": _("Done"),
    "action_failed": _("Not done"),
    "action_cancelled": _("Cancelled"),
    "action_expired": _("Expired"),
    "confirm": _("Confirm"),
    "cancel": _("Cancel"),
    "is_working": _("%(name)s is working on it…"),
    "is_typing": _("%(name)s is typing…"),
    "status_queued": _("An agent will join shortly"),
    "status_queue_position": _("You're #%(position)s in line"),
    "status_queue_wait": _(" · about %(minutes)s min"),
    "status_bot": _("Typically replies instantly"),
    "status_human_named": _("You're chatting with %(name)s"),
    "status_human": _("You're chatting with our team"),
    "status_resolved": _("This conversation is resolved"),
    "was_helpful": _("Was this answer helpful?"),
    "helpful": _("Helpful"),
    "not_helpful": _("Not helpful"),
    "what_was_missing": _("What was missing? (optional)"),
    "sending": _("Sending…"),
    "not_sent_offline": _("Not sent: you're offline."),
    "related_articles": _("Related articles"),
    "source": _("Source"),
    "just_now": _("just now"),
    "minutes_ago": _("%(minutes)s min ago"),
    "attach": _("Attach an image or PDF"),
    "uploading": _("Uploading %(name)s…"),
    "upload_failed": _("The upload failed. Check your connection and try again."),
    "upload_failed_status": _("The upload failed (HTTP %(status)s)."),
    "connecting_retry": _("Connecting… try again in a moment."),
}

# The greeting every site starts with (WidgetSite.greeting's default): shown translated unless the
# site wrote its own.
DEFAULT_GREETING = _("Hi there! Ask us anything.")


def widget_texts(*, language: str) -> dict[str, str]:
    with translation.override(language):
        return {key: str(text) for key, text in WIDGET_TEXTS.items()}


def widget_greeting(*, greeting: str, language: str) -> str:
    if greeting != "Hi there! Ask us anything.":
        return greeting
    with translation.override(language):
        return str(DEFAULT_GREETING)
