"""The customer's status frame after a handoff change, with the queue position it shows."""

from __future__ import annotations

from conversations.core import events
from conversations.handoff.selectors import conversation_status_wait
from conversations.models import Conversation


def conversation_status_publish(*, conversation_id: int) -> None:
    conversation = Conversation.objects.select_related("assignee").get(pk=conversation_id)
    events.publish_status(conversation, wait=conversation_status_wait(conversation))
