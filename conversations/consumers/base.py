"""What the socket consumers share: running ORM work off the event loop, and publishing the
events it committed from the loop."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer

from conversations import events


def db(function: Any) -> Any:
    """Run ORM work on the shared thread pool rather than Channels' single DB thread: each call is
    short and independent, and one thread would serialize every socket of the process."""
    return DatabaseSyncToAsync(function, thread_sensitive=False)


def _run_collecting(function: Any, kwargs: dict[str, Any]) -> tuple[Any, BaseException | None, events.PendingEvents]:
    with events.collecting_events() as pending:
        try:
            return function(**kwargs), None, pending
        except Exception as error:  # re-raised on the loop after whatever did commit is published
            return None, error, pending


async def call_service(function: Any, **kwargs: Any) -> tuple[Any, events.PendingEvents]:
    """Run a service in the thread pool; return its result and the events it committed, for the
    caller to publish from the event loop (after answering its own client first)."""
    result, error, pending = await db(_run_collecting)(function, kwargs)
    if error is not None:
        await events.publish_collected(pending)
        raise error
    return result, pending


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
