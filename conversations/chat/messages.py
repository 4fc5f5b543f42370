"""Posting messages: seq assignment, idempotency on client_id, broadcast after commit. A customer's
or an agent's message also moves the handoff: those two use cases are in conversations/flows/."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext

from conversations.chat.languages import conversation_language_get
from conversations.core import events
from conversations.core.message_store import ConversationState, message_append
from conversations.models import Conversation, Message
from guardrails.pii.engine import PiiSpan
from guardrails.redaction import text_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue


class MessageRejected(CodedError):
    """The message text is refused (empty, too long)."""


@dataclass(frozen=True)
class PostedMessage:
    message: Message
    created: bool
    # The conversation right after this message was appended (None when nothing was stored: a
    # retried client_id): what the caller decides next needs no query of its own.
    conversation: ConversationState | None = None


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
        conversation_id=conversation_id,
        role=role,
        text=text,
        client_id=client_id,
        author=author,
        extras=extras or {},
        now=timezone.now(),
        reopen=reopen,
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
    webhook_events_enqueue(
        conversation_id=conversation_id,
        event="message.created",
        payload=webhook_payloads.message_created(appended.message),
    )
    if appended.reopened:
        events.publish_status(Conversation.objects.select_related("assignee").get(pk=conversation_id))
    return PostedMessage(message=appended.message, created=True, conversation=appended.conversation)


def agent_own_names(agent: Any) -> frozenset[str]:
    """An agent introducing themselves is not leaking a customer's name."""
    names = {agent.first_name, agent.last_name, agent.get_full_name(), agent.get_username()}
    return frozenset(name for name in names if name)


def system_message_post(
    *, conversation_id: int, text: str | Promise, params: dict[str, Any] | None = None
) -> PostedMessage:
    """A notice to the customer, in their language: `text` is the English msgid (marked with
    gettext_noop where it is defined) or a lazy translation (ngettext_lazy for plurals); `params`
    fill its %(name)s placeholders, and lazy params are rendered in that language too."""
    with translation.override(conversation_language_get(conversation_id=conversation_id)):
        template = text if isinstance(text, Promise) else gettext(text)
        translated = str(template % params if params else template)
    return message_post(conversation_id=conversation_id, role=Message.Role.SYSTEM, text=translated, max_chars=10_000)
