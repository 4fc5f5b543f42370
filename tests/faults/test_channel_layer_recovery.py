"""The configured channel layer across a Redis restart, on a Redis this module owns: consumers
hear that it came back, the subscriptions still deliver, and the first broadcast afterwards is
not lost to the connection left over from before the restart."""

from __future__ import annotations

import asyncio

import pytest

from conversations.core.realtime_recovery import RECONNECTED_EVENT_TYPE, RecoveringPubSubChannelLayer
from tests.faults.services import OwnRedis


@pytest.fixture
def redis_server(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    if server.process is not None:
        server.stop()


async def test_it_announces_the_reconnect_and_delivers_the_first_broadcast_after_it(redis_server):
    layer = RecoveringPubSubChannelLayer(hosts=[redis_server.url], prefix="faults")
    try:
        channel = await layer.new_channel()
        await layer.group_add("conversation", channel)
        await layer.group_send("conversation", {"type": "chat.message", "n": 1})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1

        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)

        assert (await asyncio.wait_for(layer.receive(channel), 10))["type"] == RECONNECTED_EVENT_TYPE
        await layer.group_send("conversation", {"type": "chat.message", "n": 3})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 3
    finally:
        await layer.flush()


async def test_it_drops_a_broadcast_while_redis_is_down_instead_of_raising(redis_server):
    """The publisher's own work (a stored message) is committed; raising would fail it after
    the fact, and the subscribers catch up when Redis is back."""
    layer = RecoveringPubSubChannelLayer(hosts=[redis_server.url], prefix="faults")
    try:
        channel = await layer.new_channel()
        await layer.group_add("conversation", channel)
        await asyncio.to_thread(redis_server.stop)
        await asyncio.wait_for(layer.group_send("conversation", {"type": "chat.message", "n": 1}), 10)
    finally:
        await layer.flush()
