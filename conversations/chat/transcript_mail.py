"""Writing and sending the transcript mail (the Celery task in conversations/chat/tasks.py runs it).

In the mail, placeholders are re-hydrated only for values the customer typed themselves: whatever
else was redacted (an agent's colleague's number, data from a tool result) stays a placeholder,
because the recipient is whoever the customer named. Links in message texts are defanged
("hxxps://example[.]com/..."), so a mail client shows them as text, not as something to click:
the texts are what a customer, a tool or an agent wrote, not our own links.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from conversations.lib.languages import DEFAULT_LANGUAGE
from conversations.models import Conversation, Message
from guardrails.pii.vault import placeholders_in, text_rehydrate, vault_values

# Lazy: the mail is written in the customer's language (transcript_email_send).
ROLE_NAMES = {
    "customer": gettext_lazy("You"),
    "bot": gettext_lazy("Assistant"),
    "system": "",
    "agent": gettext_lazy("Agent"),
}
# What mail clients turn into links: a scheme, "www.", or a dotted host followed by a path.
_LINK = re.compile(
    r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>\"']*"
)
_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}


def link_defang(text: str) -> str:
    """ "https://evil.example/x" -> "hxxps://evil[.]example/x": readable, not clickable."""

    def defang(match: re.Match[str]) -> str:
        scheme, sep, rest = match.group(0).partition("://")
        if not sep:
            scheme, rest = "", match.group(0)
        host, slash, path = rest.partition("/")
        # Any other scheme (file:, javascript:) keeps its name but loses its "://".
        prefix = (f"{_SCHEMES[scheme.lower()]}://" if scheme.lower() in _SCHEMES else f"{scheme}[:]//") if sep else ""
        return prefix + host.replace(".", "[.]") + slash + path

    return _LINK.sub(defang, text)


def transcript_text(*, conversation_id: int) -> str:
    conversation = Conversation.objects.select_related("site").get(pk=conversation_id)
    messages = list(Message.objects.filter(conversation_id=conversation_id).select_related("author").order_by("seq"))
    own = (
        set().union(*(placeholders_in(m.text) for m in messages if m.role == Message.Role.CUSTOMER))
        if messages
        else set()
    )
    values = vault_values(conversation_id=conversation_id, placeholders=own) if own else {}
    lines = [gettext("Your conversation with %(company)s") % {"company": conversation.site.name}, ""]
    for message in messages:
        when = message.created_at.strftime("%Y-%m-%d %H:%M UTC")
        who = (
            (message.author.first_name or message.author.get_username()) if message.author else ROLE_NAMES[message.role]
        )
        text = link_defang(text_rehydrate(message.text, values))
        # Files are not mailed (the links need the widget's token); the mail says one was sent.
        files = " ".join(f"[file: {item['name']}]" for item in message.extras.get("attachments", []))
        text = f"{text} {files}".strip() if files else text
        lines.append(f"[{when}] {text}" if message.role == Message.Role.SYSTEM else f"[{when}] {who}: {text}")
    return "\n".join(lines) + "\n"


def transcript_email_send(*, conversation_id: int, email_placeholder: str) -> bool:
    conversation = Conversation.objects.select_related("site").filter(pk=conversation_id).first()
    if conversation is None:
        return False
    address = vault_values(conversation_id=conversation_id, placeholders={email_placeholder}).get(email_placeholder)
    if not address:
        return False  # purged from the vault meanwhile
    with translation.override(conversation.language or DEFAULT_LANGUAGE):
        subject = gettext("Your conversation with %(company)s") % {"company": conversation.site.name}
        body = transcript_text(conversation_id=conversation_id)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    return True
