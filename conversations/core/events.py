"""Channel-layer events: the one module that publishes to conversation and inbox groups.

Everything is published after the surrounding transaction commits: a listener that receives an
event and reads the database must find the row, and a rolled-back write must never be seen.
Delivery is at-most-once; durable state is the seq-numbered messages in Postgres, which clients
replay with `resume`.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from conversations.core.protocol import MessageFrame, StatusFrame, WaitEstimate, message_frame, status_frame
from conversations.models import Conversation, Message

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


class ChatDeltaEvent(TypedDict):
    type: Literal["chat.delta"]
    turn_id: str
    text: str


class ChatActivityEvent(TypedDict):
    type: Literal["chat.activity"]
    state: bool
    activity: str  # "thinking" or "working" (a tool runs)


class InboxChangedEvent(TypedDict):
    type: Literal["inbox.changed"]
    conversation_ids: list[str]


class InboxHeaderChangedEvent(TypedDict):
    """Something only the conversation header shows changed (a CSAT rating): agents viewing it re-render it."""

    type: Literal["inbox.header_changed"]
    conversation_id: str


class InboxNotifyEvent(TypedDict):
    type: Literal["inbox.notify"]
    user_ids: list[int]  # who should see it; empty: every agent who can see the conversation
    conversation_id: str
    title: str
    body: str


PendingEvents = list[tuple[str, dict]]
_collector = threading.local()


@contextmanager
def collecting_events() -> Iterator[PendingEvents]:
    """Collect this thread's committed events instead of sending them.

    Socket consumers run services in a worker thread; sending from there would hop back onto the
    event loop for every group_send and block the thread meanwhile. They collect instead, then
    `await publish_collected(...)` on the loop. Events still only exist once their transaction
    committed: on_commit decides what lands in the list.
    """
    previous = getattr(_collector, "pending", None)
    pending: PendingEvents = []
    _collector.pending = pending
    try:
        yield pending
    finally:
        _collector.pending = previous


def _channel_layer() -> BaseChannelLayer:
    """Channels returns None when CHANNEL_LAYERS lacks a default: say so instead of an AttributeError."""
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no 'default' layer, so no event can be published")
    return layer


# The inbox list only needs to know *that* conversations changed; on a busy socket process one
# notification per this interval replaces one per message.
INBOX_COALESCE_SECONDS = 0.1


class _InboxCoalescer:
    def __init__(self) -> None:
        self.conversation_ids: set[str] = set()
        self.flush_task: asyncio.Task | None = None

    def add(self, conversation_ids: list[str]) -> None:
        self.conversation_ids.update(conversation_ids)
        if self.flush_task is None:
            self.flush_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(INBOX_COALESCE_SECONDS)
        ids, self.conversation_ids, self.flush_task = sorted(self.conversation_ids), set(), None
        event: InboxChangedEvent = {"type": "inbox.changed", "conversation_ids": ids}
        await _channel_layer().group_send(INBOX_GROUP, dict(event))


_coalescers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InboxCoalescer] = weakref.WeakKeyDictionary()


async def publish_collected(pending: PendingEvents) -> None:
    layer = _channel_layer()
    for group, event in pending:
        if group == INBOX_GROUP and event["type"] == "inbox.changed":
            loop = asyncio.get_running_loop()
            _coalescers.setdefault(loop, _InboxCoalescer()).add(event["conversation_ids"])
        else:
            await layer.group_send(group, event)


def _send(group: str, event: dict) -> None:
    pending = getattr(_collector, "pending", None)
    if pending is not None:
        pending.append((group, event))
    else:
        async_to_sync(_channel_layer().group_send)(group, event)


def _send_on_commit(group: str, event: dict) -> None:
    transaction.on_commit(lambda: _send(group, event))


def publish_message(message: Message, *, public_id: object) -> None:
    event: ChatMessageEvent = {"type": "chat.message", "message": message_frame(message)}
    _send_on_commit(conversation_group(public_id), dict(event))
    publish_inbox_changed(public_id)


def publish_status(conversation: Conversation, *, wait: WaitEstimate | None = None) -> None:
    event: ChatStatusEvent = {"type": "chat.status", "status": status_frame(conversation, wait=wait)}
    _send_on_commit(conversation_group(conversation.public_id), dict(event))
    publish_inbox_changed(conversation.public_id)


def publish_inbox_changed(public_id: object) -> None:
    event: InboxChangedEvent = {"type": "inbox.changed", "conversation_ids": [str(public_id)]}
    _send_on_commit(INBOX_GROUP, dict(event))


def publish_header_changed(public_id: object) -> None:
    event: InboxHeaderChangedEvent = {"type": "inbox.header_changed", "conversation_id": str(public_id)}
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
    await _channel_layer().group_send(conversation_group(public_id), dict(event))


async def delta_audience_here(*, public_id: object) -> bool:
    """True when nobody outside this process listens to the conversation (its widget sockets and
    any inbox watchers all live here, or nobody does): a turn that learns it before its first
    delta hands its deltas to this process's sockets directly (`publish_delta(here=True)`),
    which skips serializing, the PUBLISH round trip and reading each piece back from Redis.
    Asked once per turn (one PUBSUB NUMSUB); a socket of another process that joins the
    conversation during that turn gets the stored final message but not the rest of its deltas,
    which are at-most-once anyway. Any failure answers False: the deltas go through Redis."""
    layer = _channel_layer()
    only_here = getattr(layer, "group_only_here", None)
    if only_here is None:
        return False
    try:
        return bool(await only_here(conversation_group(public_id)))
    except Exception:  # Redis away: the ordinary path, whose publish already copes with that
        return False


async def publish_delta(*, public_id: object, turn_id: str, text: str, here: bool = False) -> None:
    """A piece of a streamed bot reply. Ephemeral: the final stored message supersedes the pieces.
    `here`: only this process's sockets listen (delta_audience_here)."""
    event: ChatDeltaEvent = {"type": "chat.delta", "turn_id": turn_id, "text": text}
    layer = _channel_layer()
    if here:
        layer.group_send_here(conversation_group(public_id), dict(event))  # type: ignore[attr-defined]
    else:
        await layer.group_send(conversation_group(public_id), dict(event))


async def publish_bot_activity(*, public_id: object, state: bool, activity: str = "thinking") -> None:
    event: ChatActivityEvent = {"type": "chat.activity", "state": state, "activity": activity}
    await _channel_layer().group_send(conversation_group(public_id), dict(event))


def publish_notification(*, user_ids: list[int], public_id: object, title: str, body: str) -> None:
    """A toast in the inbox of these agents (a new handoff for them, an SLA reminder)."""
    event: InboxNotifyEvent = {
        "type": "inbox.notify",
        "user_ids": user_ids,
        "conversation_id": str(public_id),
        "title": title,
        "body": body,
    }
    _send_on_commit(INBOX_GROUP, dict(event))


def agent_conversation_group(public_id: object) -> str:
    """Only inbox sockets join this one: internal notes and who-is-viewing never share a group
    with the customer's sockets, so no bug in the chat consumer could forward them."""
    return f"agents.conversation.{public_id}"


class InboxNoteEvent(TypedDict):
    type: Literal["inbox.note"]
    note_id: int


class InboxViewersEvent(TypedDict):
    type: Literal["inbox.viewers"]


class InboxFeedbackEvent(TypedDict):
    """The customer rated the bot answer `seq`: agents viewing the conversation re-render its rating."""

    type: Literal["inbox.feedback"]
    seq: int


def publish_feedback(*, public_id: object, seq: int) -> None:
    event: InboxFeedbackEvent = {"type": "inbox.feedback", "seq": seq}
    _send_on_commit(agent_conversation_group(public_id), dict(event))


def publish_note(*, public_id: object, note_id: int) -> None:
    event: InboxNoteEvent = {"type": "inbox.note", "note_id": note_id}
    _send_on_commit(agent_conversation_group(public_id), dict(event))


async def publish_viewers_changed(*, public_id: object) -> None:
    event: InboxViewersEvent = {"type": "inbox.viewers"}
    await _channel_layer().group_send(agent_conversation_group(public_id), dict(event))


@contextmanager
def published_together() -> Iterator[None]:
    """For sync code outside the event loop (Celery tasks): collect what the block commits and
    send it all from one event loop at the end. Each bare `async_to_sync(group_send)` starts a
    loop and a Redis connection of its own; a handoff step publishes several events."""
    with collecting_events() as pending:
        yield
    if pending:
        async_to_sync(_send_all)(pending)


async def _send_all(pending: PendingEvents) -> None:
    layer = _channel_layer()
    for group, event in pending:
        await layer.group_send(group, event)
