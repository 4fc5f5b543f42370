"""Running ORM work and services from async code (socket consumers, the bot's turns), and
publishing the events they committed from the event loop."""

from __future__ import annotations

from typing import Any

from channels.db import DatabaseSyncToAsync

from conversations.core import events
from supportbot.runtime.trace import trace_marks, traced_call


def db(function: Any, *, name: str | None = None) -> Any:
    """Run ORM work on the shared thread pool rather than Channels' single DB thread: each call is
    short and independent, and one thread would serialize every socket of the process."""
    if trace_marks() is not None:  # a traced bot turn (benchmark only): queued / started / done
        function = traced_call(function, name=name)
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
    result, error, pending = await db(_run_collecting, name=function.__name__)(function, kwargs)
    if error is not None:
        await events.publish_collected(pending)
        raise error
    return result, pending
