"""Posting messages: seq assignment, idempotency on client_id, ownership, broadcast after commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.models import Conversation, Message
from conversations.services.agents import agent_check


class MessageRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
) -> PostedMessage:
    """Store one message with the conversation's next seq and publish it after commit.

    The conversation row lock serializes concurrent senders, so seqs are unique and strictly
    increasing in commit order, and a retried client_id is found by the second sender instead of
    racing the first one into the unique constraint.
    """
    limit = settings.CHAT_MAX_MESSAGE_CHARS if max_chars is None else max_chars
    if not text.strip():
        raise MessageRejected("bad_frame", "text must not be empty")
    if len(text) > limit:
        raise MessageRejected("too_large", f"text is longer than {limit} characters")

    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .only("id", "public_id", "last_seq", "status", "assignee_id")
            .get(pk=conversation_id)
        )
        if client_id is not None:
            existing = Message.objects.filter(conversation_id=conversation_id, client_id=client_id).first()
            if existing is not None:
                return PostedMessage(message=existing, created=False)

        now = timezone.now()
        seq = conversation.last_seq + 1
        updates: dict[str, Any] = {"last_seq": seq, "last_message_at": now, "updated_at": now}
        if role == Message.Role.CUSTOMER:
            updates["last_customer_message_at"] = now
        Conversation.objects.filter(pk=conversation_id).update(**updates)
        message = Message.objects.create(
            conversation_id=conversation_id,
            seq=seq,
            role=role,
            text=text,
            client_id=client_id,
            author=author,
            extras=extras or {},
        )
        events.publish_message(message, public_id=conversation.public_id)
    return PostedMessage(message=message, created=True)


def customer_message_post(*, conversation_id: int, text: str, client_id: UUID) -> PostedMessage:
    """A customer's message. Writing into a resolved conversation reopens it."""
    with transaction.atomic():
        posted = message_post(
            conversation_id=conversation_id, role=Message.Role.CUSTOMER, text=text, client_id=client_id
        )
        if posted.created:
            reopened = Conversation.objects.filter(
                pk=conversation_id, status=Conversation.Status.RESOLVED
            ).update(status=Conversation.Status.BOT, resolved_at=None, assignee=None, handoff_reason="", csat_score=None, csat_comment="")
            if reopened:
                events.publish_status(Conversation.objects.select_related("assignee").get(pk=conversation_id))
    return posted


def agent_message_post(*, conversation_id: int, agent: Any, text: str, client_id: UUID | None = None) -> PostedMessage:
    """An agent's reply. Replying takes the conversation over: a human now owns it."""
    agent_check(agent)
    with transaction.atomic():
        taken = Conversation.objects.filter(pk=conversation_id).exclude(
            status=Conversation.Status.HUMAN, assignee=agent
        ).update(status=Conversation.Status.HUMAN, assignee=agent, resolved_at=None, updated_at=timezone.now())
        posted = message_post(
            conversation_id=conversation_id, role=Message.Role.AGENT, text=text, client_id=client_id, author=agent
        )
        if taken:
            events.publish_status(Conversation.objects.select_related("assignee").get(pk=conversation_id))
    return posted


def system_message_post(*, conversation_id: int, text: str) -> PostedMessage:
    return message_post(conversation_id=conversation_id, role=Message.Role.SYSTEM, text=text, max_chars=10_000)
