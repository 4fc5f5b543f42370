"""Channel-layer events: the one module that publishes to conversation and inbox groups.

Everything is published after the surrounding transaction commits: a listener that receives an
event and reads the database must find the row, and a rolled-back write must never be seen.
Delivery is at-most-once; durable state is the seq-numbered messages in Postgres, which clients
replay with `resume`.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.models import Conversation, Message
from conversations.protocol import MessageFrame, StatusFrame, message_frame, status_frame

INBOX_GROUP = "inbox"


def conversation_group(public_id: object) -> str:
    return f"conversation.{public_id}"


class ChatMessageEvent(TypedDict):
    type: Literal["chat.message"]
    message: MessageFrame


class ChatTypingEvent(TypedDict):
    type: Literal["chat.typing"]
    role: str
    state: bool
    author: str
    sender_channel: str


class ChatStatusEvent(TypedDict):
    type: Literal["chat.status"]
    status: StatusFrame


class InboxChangedEvent(TypedDict):
    type: Literal["inbox.changed"]
    conversation_id: str


def _send(group: str, event: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(group, event)


def _send_on_commit(group: str, event: dict) -> None:
    transaction.on_commit(lambda: _send(group, event))


def publish_message(message: Message, *, public_id: object) -> None:
    event: ChatMessageEvent = {"type": "chat.message", "message": message_frame(message)}
    _send_on_commit(conversation_group(public_id), dict(event))
    publish_inbox_changed(public_id)


def publish_status(conversation: Conversation) -> None:
    event: ChatStatusEvent = {"type": "chat.status", "status": status_frame(conversation)}
    _send_on_commit(conversation_group(conversation.public_id), dict(event))
    publish_inbox_changed(conversation.public_id)


def publish_inbox_changed(public_id: object) -> None:
    event: InboxChangedEvent = {"type": "inbox.changed", "conversation_id": str(public_id)}
    _send_on_commit(INBOX_GROUP, dict(event))


async def publish_typing(*, public_id: object, role: str, state: bool, author: str, sender_channel: str) -> None:
    """Typing is ephemeral (never stored), so it goes out at once from the async side."""
    event: ChatTypingEvent = {
        "type": "chat.typing",
        "role": role,
        "state": state,
        "author": author,
        "sender_channel": sender_channel,
    }
    await get_channel_layer().group_send(conversation_group(public_id), dict(event))
