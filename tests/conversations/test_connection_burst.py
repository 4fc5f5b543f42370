"""What many sockets opening at once cost the process (docs/performance.md, "the connection
burst"): their SUBSCRIBEs neither wait behind the publishes nor go out one command each, and a
socket's setup takes two trips to the thread pool, not four."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio.connection
from channels.layers import get_channel_layer

from conversations.widget import consumer as chat_consumer
from tests.conversations.test_chat_protocol import connected, frames_until

pytestmark = pytest.mark.timeout(60)


def _count_writes(monkeypatch: pytest.MonkeyPatch, command: bytes) -> list[int]:
    """Counts the writes to Redis that carry `command` (one element per write)."""
    writes: list[int] = []
    real_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    async def counted_send(self, packed, check_health=True):  # noqa: ANN001 - redis-py's signature
        data = packed if isinstance(packed, bytes | str) else b"".join(packed)
        if command in (data.encode() if isinstance(data, str) else data):
            writes.append(1)
        return await real_send(self, packed, check_health)

    monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", counted_send)
    return writes


def _lock_waiters(layer) -> int:  # noqa: ANN001 - the channel layer
    """Callers queued on the shard's locks: the publishing one, and the subscriptions' own."""
    shard = layer._get_layer()._shards[0]
    locks = [shard._lock, getattr(shard, "_subscription_lock", None)]
    return sum(len(lock._waiters or ()) for lock in locks if lock is not None)


async def test_subscriptions_made_at_once_go_out_together_and_all_deliver(monkeypatch):
    layer = get_channel_layer()
    deepest = 0

    async def watch_queue() -> None:
        nonlocal deepest
        while True:
            deepest = max(deepest, _lock_waiters(layer))
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch_queue())
    try:
        writes = _count_writes(monkeypatch, b"SUBSCRIBE")
        channels = await asyncio.gather(*(layer.new_channel() for _ in range(30)))
        await asyncio.gather(*(layer.group_add(f"burst-{n}", channel) for n, channel in enumerate(channels)))
        monkeypatch.undo()
        watcher.cancel()
        for n in range(30):
            await layer.group_send(f"burst-{n}", {"type": "chat.delta", "n": n})
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for channel in channels]
    finally:
        watcher.cancel()
        monkeypatch.undo()
        for n, channel in enumerate(channels):
            await layer.group_discard(f"burst-{n}", channel)
        await layer.flush()

    assert received == list(range(30))
    # 60 SUBSCRIBEs (each socket's own channel and its group): the first of each gather alone,
    # the rest queued behind it in one command. One write each, 60 in all, before.
    assert len(writes) <= 4
    # Nobody queued for a lock to learn that its SUBSCRIBE went out (29 callers did, before:
    # each woke one event-loop turn after the previous one released it).
    assert deepest <= 1


async def test_a_subscription_does_not_wait_for_the_publishes():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    shard = layer._get_layer()._get_shard(layer._get_layer()._get_group_channel_name("burst-held"))
    try:
        async with shard._lock:  # a publish holding the connection (a slow round trip)
            # Before, the SUBSCRIBE queued behind it: this never completed while the lock was held.
            await asyncio.wait_for(layer.group_add("burst-held", channel), 10)
        await layer.group_send("burst-held", {"type": "chat.delta", "n": 1})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    finally:
        await layer.group_discard("burst-held", channel)
        await layer.flush()


async def test_subscribe_and_unsubscribe_queued_together_keep_their_order():
    layer = get_channel_layer()
    loop_layer = layer._get_layer()
    shard = loop_layer._shards[0]
    try:
        await shard.subscribe("burst-warm")  # the connection exists; what follows queues together
        async with shard._subscription_lock:
            changes = [
                asyncio.ensure_future(shard.subscribe("burst-a")),
                asyncio.ensure_future(shard.unsubscribe("burst-a")),
                asyncio.ensure_future(shard.subscribe("burst-b")),
                asyncio.ensure_future(shard.subscribe("burst-a")),
                asyncio.ensure_future(shard.unsubscribe("burst-b")),
            ]
            await asyncio.sleep(0)
        await asyncio.gather(*changes)
        assert {"burst-a", "burst-warm"} <= shard._subscribed_to and "burst-b" not in shard._subscribed_to
        counts = {}
        for _ in range(50):  # Redis confirms SUBSCRIBEs asynchronously: poll, with a deadline
            counts = {name: await shard.subscriber_count(name) for name in ("burst-a", "burst-b")}
            if counts == {"burst-a": 1, "burst-b": 0}:
                break
            await asyncio.sleep(0.1)
        assert counts == {"burst-a": 1, "burst-b": 0}
    finally:
        await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_opens_and_resumes_in_two_trips_to_the_thread_pool(widget_session, monkeypatch):
    trips: list[str] = []
    real_db = chat_consumer.db

    def counted_db(function):  # noqa: ANN001, ANN202 - as db()
        trips.append(function.__name__)
        return real_db(function)

    monkeypatch.setattr(chat_consumer, "db", counted_db)
    comm = await connected(widget_session)
    try:
        await comm.send_json_to({"type": "resume", "after_seq": 0})
        frames = await frames_until(comm, lambda f: f["type"] == "status")
    finally:
        await comm.disconnect()

    assert [f["type"] for f in frames][-2:] == ["resumed", "status"]
    # access + lease, then the replay with the status (disconnect's lease release comes after).
    assert trips[:2] == ["_access_and_lease", "_replay_batch"]
    assert len([t for t in trips if t != "socket_lease_release"]) == 2
