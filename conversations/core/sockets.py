"""What the socket consumers share."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class LoopOnlyConsumer(AsyncWebsocketConsumer):
    """A consumer that never touches the ORM on the event loop thread.

    Channels closes stale DB connections before every handler by hopping to its single sync
    thread; our DB work runs through `db()`, which does that cleanup in the worker thread itself,
    so the per-frame hop is pure overhead on the hot path.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
