"""The customer's language of a conversation, for texts written outside a bot turn."""

from __future__ import annotations

from conversations.lib.languages import DEFAULT_LANGUAGE
from conversations.models import Conversation


def conversation_language_get(*, conversation_id: int) -> str:
    language = Conversation.objects.filter(pk=conversation_id).values_list("language", flat=True).first()
    return language or DEFAULT_LANGUAGE
