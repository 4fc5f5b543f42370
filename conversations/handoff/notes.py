"""Internal notes: agents only, never sent to the customer (a table of their own, published only
to the agents' group). Redacted like messages: a note is stored text too."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from conversations.chat.messages import MessageRejected, agent_own_names
from conversations.core import events
from conversations.core.people import agent_check
from conversations.models import Conversation, InternalNote
from guardrails.redaction import text_redact


def note_add(*, conversation_id: int, agent: Any, text: str) -> InternalNote:
    agent_check(agent)
    if not text.strip():
        raise MessageRejected("bad_frame", "the note is empty")
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise MessageRejected("too_large", f"the note is longer than {settings.CHAT_MAX_MESSAGE_CHARS} characters")
    redacted = text_redact(conversation_id=conversation_id, text=text, keep=agent_own_names(agent)).text
    with transaction.atomic():
        note = InternalNote.objects.create(conversation_id=conversation_id, author=agent, text=redacted)
        public_id = Conversation.objects.values_list("public_id", flat=True).get(pk=conversation_id)
        events.publish_note(public_id=public_id, note_id=note.pk)
    return note
