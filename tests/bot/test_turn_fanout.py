"""Where a turn's streamed deltas travel: straight to this process's sockets when nobody else
listens to the conversation, through Redis as soon as a socket of another process does.

"Another process" is a second channel layer with its own Redis connection, which is all Redis
sees of a process. What passes through Redis is read with a pattern subscription: PUBSUB NUMSUB,
which decides the route, counts channel subscribers and not patterns, so the observer does not
change what it observes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from django.conf import settings

from conversations.core import events
from conversations.core.realtime_recovery import RecoveringPubSubChannelLayer
from tests.bot_support import Chat, opened
from tests.fakes.model_server import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

REPLY = "You can return delivered items within 30 days for a full refund, to the original payment method [1]."


def _redis_channel(group: str) -> str:
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return f"{config['prefix']}__group__{group}"


@contextlib.asynccontextmanager
async def published_types(group: str) -> AsyncIterator[list[str]]:
    """The type of every event PUBLISHed to `group` through Redis while the block runs."""
    seen: list[str] = []
    layer = get_channel_layer()
    client = aioredis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    # No wildcards: exactly this channel, and a marker channel no consumer listens to. Redis
    # delivers to this connection in the order it took the publishes, whatever their channel.
    marker = f"{_redis_channel(group)}:test-marker"
    await pubsub.psubscribe(_redis_channel(group), marker)

    async def read() -> None:
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            if message["channel"].decode() == marker:
                seen.append("test.marker")
            else:
                seen.append(layer.deserialize(message["data"])["type"])

    reader = asyncio.create_task(read())
    try:
        yield seen
        # A marker published after the block reaches the reader after every earlier publish: wait
        # for it instead of for a fixed time.
        await client.publish(marker, b"")
        async with asyncio.timeout(10):
            while "test.marker" not in seen:
                await asyncio.sleep(0.01)
        seen.remove("test.marker")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await pubsub.aclose()
        await client.aclose()


async def test_it_hands_the_deltas_to_its_own_socket_without_redis_when_nobody_else_listens(
    bot_site, articles, model_server
):
    model_server.script(Reply(text=REPLY, seconds_per_token=0.03))
    session = await opened(bot_site)
    group = events.conversation_group(session.conversation.public_id)
    async with Chat(session) as chat, published_types(group) as through_redis:
        await chat.say("How long do I have to send something back?")
        reply = await chat.bot_message()
    deltas = chat.deltas()
    assert len(deltas) > 3 and "".join(d["text"] for d in deltas) == reply["text"] == REPLY
    # The stored message and the bot's typing still go through Redis (every process may need them).
    assert "chat.delta" not in through_redis
    assert through_redis.count("chat.message") == 2 and "chat.activity" in through_redis


async def test_a_watcher_in_another_process_gets_every_delta_through_redis(bot_site, articles, model_server):
    model_server.script(Reply(text=REPLY, seconds_per_token=0.03))
    session = await opened(bot_site)
    group = events.conversation_group(session.conversation.public_id)
    elsewhere = RecoveringPubSubChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    watcher = await elsewhere.new_channel()
    await elsewhere.group_add(group, watcher)
    watched: list[dict] = []

    async def watch() -> None:
        while True:
            event = await elsewhere.receive(watcher)
            watched.append(event)
            if event["type"] == "chat.message" and event["message"]["role"] == "bot":
                return

    watching = asyncio.create_task(watch())
    try:
        async with Chat(session) as chat, published_types(group) as through_redis:
            await chat.say("How long do I have to send something back?")
            reply = await chat.bot_message()
            await asyncio.wait_for(watching, timeout=10)
    finally:
        watching.cancel()
        await elsewhere.flush()
    pieces = [e["text"] for e in watched if e["type"] == "chat.delta"]
    assert len(pieces) > 3 and "".join(pieces) == reply["text"] == REPLY
    # The customer's own socket got the same pieces, the same way.
    assert [d["text"] for d in chat.deltas()] == pieces
    assert through_redis.count("chat.delta") == len(pieces)
