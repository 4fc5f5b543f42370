"""What a turn's streaming does when publishing is slow: the publishes waiting for the process's
Redis connection leave together, and the text a model streams while a delta waits leaves as one
delta after it (docs/performance.md, "the latency tail": one publish per token, each waiting for
every earlier one, had held streams for seconds)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio.connection
from channels.layers import get_channel_layer

from conversations.bot.turn import DeltaStream, TurnState
from conversations.core import events

pytestmark = pytest.mark.timeout(60)


async def test_publishes_waiting_for_the_connection_go_out_together_and_in_order(monkeypatch):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("publishing-test", channel)
    sends = 0
    real_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    async def counted_send(self, command, check_health=True):  # noqa: ANN001 - redis-py's signature
        nonlocal sends
        packed = command if isinstance(command, bytes | str) else b"".join(command)
        if b"PUBLISH" in (packed.encode() if isinstance(packed, str) else packed):
            sends += 1  # one write to the socket carrying publishes: a round trip
        return await real_send(self, command, check_health)

    try:
        monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", counted_send)
        await asyncio.gather(*(layer.group_send("publishing-test", {"type": "chat.delta", "n": n}) for n in range(30)))
        monkeypatch.undo()
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(30)]
    finally:
        monkeypatch.undo()
        await layer.group_discard("publishing-test", channel)
        await layer.flush()

    assert received == list(range(30))
    # The first publish alone (nothing else queued yet), then the 29 that queued behind it in one
    # pipeline; one round trip each, 30 in all, before.
    assert sends <= 3


async def test_text_streamed_while_a_delta_waits_leaves_as_one_delta_after_it(monkeypatch):
    published: list[str] = []

    async def slow_publish(*, public_id: object, turn_id: str, text: str, here: bool = False) -> None:
        await asyncio.sleep(0.1)  # a publish queued behind others on a busy connection
        published.append(text)

    async def nobody_else(*, public_id: object) -> bool:
        return True

    monkeypatch.setattr(events, "publish_delta", slow_publish)
    monkeypatch.setattr(events, "delta_audience_here", nobody_else)
    stream = DeltaStream(public_id="conversation", turn=TurnState(turn_id="turn", started=0.0))
    pieces = [f"word{n} " for n in range(20)]
    for piece in pieces:  # a token every 5 ms, as a model streams
        await stream.feed(piece)
        await asyncio.sleep(0.005)
    await stream.flush()

    assert "".join(published) == "".join(pieces)
    assert published[0] == pieces[0]  # the first piece still goes out at once
    # One delta per publish's wait, not one per token (20 before).
    assert len(published) <= 6
