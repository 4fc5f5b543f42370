"""`captured_events`: what a service published to the realtime groups, without opening a socket
(a pytest plugin loaded by tests/conftest.py).

It listens the way a consumer does, on the real channel layer (Redis Pub/Sub): a channel of its
own joins each group of interest with `group_add`, and a receiver drains it. The layer is bound
to an event loop, and a sync test has none, so the listener runs its own loop in a thread. Its
methods block the calling thread while they wait: an async test calls them through
`sync_to_async`, or it would stall a publisher running on its own loop.

    def test_x(captured_events, django_capture_on_commit_callbacks):
        captured_events.listen(INBOX_GROUP, conversation_group(conversation.public_id))
        with django_capture_on_commit_callbacks(execute=True):
            some_service(...)
        event = captured_events.wait_for(INBOX_GROUP, lambda e: e["type"] == "inbox.notify")

conversations/core/events.py publishes after the transaction commits. A `db` test's transaction never
commits, so run the service inside pytest-django's `django_capture_on_commit_callbacks(execute=True)`
(a `transactional_db` test needs nothing: its commits are real).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest
from channels.layers import get_channel_layer

Event = dict
_READY = "capture.ready"  # the listener's own probe, never shown to the test


class CapturedEvents:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="captured-events", daemon=True)
        self._thread.start()
        self._layer = get_channel_layer()
        self._events: dict[str, list[Event]] = {}
        self._channels: dict[str, str] = {}
        self._changed = threading.Condition()
        self._receivers: list[asyncio.Task] = []
        self._probes: set[str] = set()

    def _serve(self) -> None:
        self._loop.run_forever()
        # Closed here, where no other loop runs: channels_redis hooks close() to run one last
        # flush of this loop's layer, which closes its Redis connections.
        self._loop.close()

    def _run(self, coroutine, timeout: float = 10.0):
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def listen(self, *groups: str) -> None:
        """Join these groups; returns once Redis delivers to them (a probe went through), so
        nothing the test publishes afterwards can be missed."""
        for group in groups:
            if group not in self._channels:
                self._run(self._join(group))

    async def _join(self, group: str) -> None:
        channel = await self._layer.new_channel(prefix="capture.")
        await self._layer.group_add(group, channel)
        self._channels[group] = channel
        self._events[group] = []
        probe = uuid.uuid4().hex
        # Pub/Sub SUBSCRIBE is not acknowledged before it returns: a probe that comes back through
        # the group proves the subscription is live. Anything published before the probe arrives
        # is left out: it predates listening.
        await self._layer.group_send(group, {"type": _READY, "probe": probe})
        while True:
            message = await asyncio.wait_for(self._layer.receive(channel), timeout=5)
            if message.get("type") == _READY and message.get("probe") == probe:
                break
        self._receivers.append(asyncio.get_running_loop().create_task(self._receive(group, channel)))

    async def _receive(self, group: str, channel: str) -> None:
        while True:
            message = await self._layer.receive(channel)
            with self._changed:
                if message.get("type") == _READY:
                    self._probes.add(message.get("probe"))
                else:
                    self._events[group].append(message)
                self._changed.notify_all()

    def events(self, group: str) -> list[Event]:
        """What the group received so far (no waiting)."""
        with self._changed:
            return list(self._events[group])

    def wait_for(
        self, group: str, predicate: Callable[[Event], bool] = lambda event: True, *, timeout: float = 5.0
    ) -> Event:
        """The first event of the group that matches, waiting for it up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((event for event in self._events[group] if predicate(event)), None)
                remaining = deadline - time.monotonic()
                if found is not None:
                    return found
                if remaining <= 0:
                    raise AssertionError(f"no matching event in {group!r} within {timeout}s; got {self._events[group]}")
                self._changed.wait(remaining)

    def settled(self, group: str, *, timeout: float = 5.0) -> list[Event]:
        """Every event published to the group before this call: for asserting the whole of what
        was sent, or that nothing was. A probe sent through the group now arrives after all of
        them (Redis delivers one subscriber's messages in publish order), so no guessing how long
        to wait."""
        probe = uuid.uuid4().hex
        self._run(self._layer.group_send(group, {"type": _READY, "probe": probe}))
        deadline = time.monotonic() + timeout
        with self._changed:
            while probe not in self._probes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"the channel layer did not deliver to {group!r} within {timeout}s")
                self._changed.wait(remaining)
            return list(self._events[group])

    def close(self) -> None:
        async def stop() -> None:
            for task in self._receivers:
                task.cancel()
            await asyncio.gather(*self._receivers, return_exceptions=True)
            for group, channel in self._channels.items():
                await self._layer.group_discard(group, channel)

        try:
            self._run(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


@pytest.fixture
def captured_events() -> Iterator[CapturedEvents]:
    capture = CapturedEvents()
    yield capture
    capture.close()
