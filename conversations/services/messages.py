"""Posting messages: seq assignment, idempotency on client_id, ownership, broadcast after commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext

from conversations import events
from conversations.attachments.models import Attachment
from conversations.attachments.services import attachment_extras, attachment_for_message, attachment_link
from conversations.languages.selectors import conversation_language_get
from conversations.message_store import message_append
from conversations.models import Conversation, Message
from conversations.services.agents import agent_check
from guardrails.pii.engine import PiiSpan
from guardrails.redaction import text_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue

EMAIL_PLACEHOLDER = re.compile(r"<EMAIL_ADDRESS_\d+>")


class MessageRejected(CodedError):
    """The message text is refused (empty, too long)."""


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool


def message_post(
    *,
    conversation_id: int,
    role: str,
    text: str,
    client_id: UUID | None = None,
    author: Any = None,
    extras: dict | None = None,
    max_chars: int | None = None,
    reopen: bool = False,
    redact: bool = False,
    redact_keep: frozenset[str] = frozenset(),
    redact_detected: list[PiiSpan] | None = None,
) -> PostedMessage:
    """Store one message with the conversation's next seq and publish it after commit.

    Seqs are assigned under the conversation's row lock (see message_store), so they are unique,
    gapless and strictly increasing in commit order, whatever number of senders race. A retried
    client_id returns the stored message and creates nothing. `reopen` lets a customer's message
    reopen a resolved conversation. `redact` replaces personal data with vault placeholders
    before anything is stored or published (limits apply to what the sender typed);
    `redact_detected` carries the text's PII spans when the caller already detected them.
    """
    limit = settings.CHAT_MAX_MESSAGE_CHARS if max_chars is None else max_chars
    if not text.strip() and not (extras or {}).get("attachments"):
        raise MessageRejected("bad_frame", "text must not be empty")
    if len(text) > limit:
        raise MessageRejected("too_large", f"text is longer than {limit} characters")
    if redact and text.strip():
        redaction = text_redact(conversation_id=conversation_id, text=text, keep=redact_keep, detected=redact_detected)
        text = redaction.text
        if redaction.entities:
            extras = {**(extras or {}), "pii": redaction.entity_counts}

    append = partial(
        message_append,
        conversation_id=conversation_id, role=role, text=text, client_id=client_id, author=author,
        extras=extras or {}, now=timezone.now(), reopen=reopen,
    )
    try:
        if connection.in_atomic_block and client_id is not None:
            with transaction.atomic():  # a savepoint: a duplicate must not break the caller's transaction
                appended = append()
        else:
            appended = append()  # one statement, atomic on its own
    except IntegrityError as error:
        if client_id is None or "message_unique_client_id" not in str(error):
            raise
        existing = Message.objects.select_related("author").get(conversation_id=conversation_id, client_id=client_id)
        return PostedMessage(message=existing, created=False)

    events.publish_message(appended.message, public_id=appended.public_id)
    webhook_events_enqueue(conversation_id=conversation_id, event="message.created",
                           payload=webhook_payloads.message_created(appended.message))
    if appended.reopened:
        events.publish_status(Conversation.objects.select_related("assignee").get(pk=conversation_id))
    return PostedMessage(message=appended.message, created=True)


def customer_message_post(*, conversation_id: int, text: str, client_id: UUID,
                          detected: list[PiiSpan] | None = None, attachment_id: UUID | None = None) -> PostedMessage:
    """A customer's message. Writing into a resolved conversation reopens it. On a site with the
    bot off, it goes to the team. An email address typed while the team is away is kept for the
    follow-up. `detected`: the text's PII spans, when the socket detected them off its loop.
    `attachment_id`: a file the customer uploaded to this conversation (text may then be empty)."""
    attachment = None
    if attachment_id is not None:
        attachment = attachment_for_message(conversation_id=conversation_id, attachment_id=attachment_id,
                                            uploader=Attachment.Uploader.CUSTOMER, client_id=client_id)
    posted = message_post(
        conversation_id=conversation_id, role=Message.Role.CUSTOMER, text=text, client_id=client_id, reopen=True,
        redact=True, redact_detected=detected,
        extras={"attachments": [attachment_extras(attachment)]} if attachment else None,
    )
    if not posted.created:
        return posted
    if attachment is not None:
        attachment_link(attachment=attachment, message=posted.message)
    from conversations.handoff.services import handoff_follow_up_capture, handoff_open_for_live_chat
    from conversations.services.conversations import conversation_language_observe

    # Before the handoff below: its system messages are written in the customer's language.
    conversation_language_observe(conversation_id=conversation_id, text=posted.message.text)
    handoff_open_for_live_chat(conversation_id=conversation_id)
    if posted.message.extras.get("pii", {}).get("EMAIL_ADDRESS"):
        email = EMAIL_PLACEHOLDER.search(posted.message.text)
        if email:
            handoff_follow_up_capture(conversation_id=conversation_id, email_placeholder=email.group(0))
    return posted


def agent_message_post(*, conversation_id: int, agent: Any, text: str, client_id: UUID | None = None,
                       attachment_id: UUID | None = None) -> PostedMessage:
    """An agent's reply. Replying to a conversation nobody owns takes it over (the bot goes
    silent); a reply to a colleague's conversation leaves it with them. `attachment_id`: a file
    uploaded to this conversation by an agent (text may then be empty)."""
    from conversations.handoff.services import handoff_agent_replied

    agent_check(agent)
    attachment = None
    if attachment_id is not None:
        attachment = attachment_for_message(conversation_id=conversation_id, attachment_id=attachment_id,
                                            uploader=Attachment.Uploader.AGENT, client_id=client_id)
    with transaction.atomic():
        handoff_agent_replied(conversation_id=conversation_id, agent=agent)
        posted = message_post(
            conversation_id=conversation_id, role=Message.Role.AGENT, text=text, client_id=client_id, author=agent,
            redact=True, redact_keep=agent_own_names(agent),
            extras={"attachments": [attachment_extras(attachment)]} if attachment else None,
        )
        if attachment is not None and posted.created:
            attachment_link(attachment=attachment, message=posted.message)
    return posted


def agent_own_names(agent: Any) -> frozenset[str]:
    """An agent introducing themselves is not leaking a customer's name."""
    names = {agent.first_name, agent.last_name, agent.get_full_name(), agent.get_username()}
    return frozenset(name for name in names if name)


def system_message_post(*, conversation_id: int, text: str | Promise,
                        params: dict[str, Any] | None = None) -> PostedMessage:
    """A notice to the customer, in their language: `text` is the English msgid (marked with
    gettext_noop where it is defined) or a lazy translation (ngettext_lazy for plurals); `params`
    fill its %(name)s placeholders, and lazy params are rendered in that language too."""
    with translation.override(conversation_language_get(conversation_id=conversation_id)):
        template = text if isinstance(text, Promise) else gettext(text)
        translated = str(template % params if params else template)
    return message_post(conversation_id=conversation_id, role=Message.Role.SYSTEM, text=translated, max_chars=10_000)
