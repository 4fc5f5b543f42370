"""Sockets that outlive a Redis or Postgres restart (docs/architecture.md, "Infrastructure faults").

Redis: channels_redis's Pub/Sub layer keeps its subscriptions through a Redis restart (redis-py
re-subscribes every channel when its Pub/Sub connection reconnects), but whatever was published
while Redis was away is gone, and nothing tells the consumers. `RecoveringPubSubChannelLayer`
notices the reconnect and hands every consumer of the process a `layer.reconnected` event, so
each socket catches up from Postgres: the chat socket closes with 4012 (its client reconnects and
`resume`s, protocol section 2), the inbox sends a fresh snapshot. A `group_send` while Redis is
down is logged and dropped instead of raised: live delivery is at-most-once by design, the message
itself is already committed, and the subscribers' catch-up covers it. Without this, the publisher
(an agent's reply view, a Celery task) would fail after its commit and invite a duplicate resend.

Postgres: frames that fail on the database (or on Redis, for the limits kept there) are answered
with the `unavailable` error and the socket stays usable; `retry_until_done` repeats a catch-up
until the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close
from django.db import DatabaseError, InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Failures of a backing service, as opposed to bugs: a frame that meets one is answered
# `unavailable` (the client resends; every frame is idempotent or safe to repeat).
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

# Of those, the ones that mean "the service is away" rather than "this statement is wrong" (an
# IntegrityError or DataError is a bug to log with its stack trace, even though it is answered
# `unavailable` too).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

RECONNECTED_EVENT_TYPE = "layer.reconnected"
# A chat socket that may have missed broadcasts closes with this (docs/protocol.md section 2):
# the client reconnects and `resume`s, as after any close it has no rule for. 4012 echoes 1012
# ("service restart"), which Daphne's websocket library does not let a server send.
CLOSE_CATCH_UP = 4012
# How long the receiver waits between reconnect attempts while Redis is away.
RECONNECT_INTERVAL_SECONDS = 0.5


@dataclass(eq=False)
class _SubscriptionChange:
    kind: str  # "subscribe" or "unsubscribe"
    channel: str
    done: asyncio.Future[BaseException | None]  # set once sent: None, or the error that stopped it


class _RecoveringShard(RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        # channels_redis's own loop (4.3), plus: remember a lost connection, and announce the
        # first successful read after it. get_message reconnects by itself, and redis-py's connect
        # callback has re-sent every SUBSCRIBE before that read returns.
        lost = False
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    if lost:
                        lost = False
                        logger.warning("channel layer: Redis is back at %s; consumers catch up", _host_name(self.host))
                        self._announce_reconnected()
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, asyncio.TimeoutError, GeneratorExit):
                raise
            except Exception as error:
                if not lost:
                    logger.error(
                        "channel layer: lost Redis at %s (%s); retrying", _host_name(self.host), type(error).__name__
                    )
                lost = True
                await asyncio.sleep(RECONNECT_INTERVAL_SECONDS)

    def _announce_reconnected(self) -> None:
        layer = self.channel_layer
        event = layer.channel_layer.serialize({"type": RECONNECTED_EVENT_TYPE})
        for queue in list(layer.channels.values()):
            queue.put_nowait(event)

    def __init__(self, host: Any, channel_layer: Any) -> None:
        super().__init__(host, channel_layer)
        # Publishes waiting for the shard's lock, in call order (see publish).
        self._outbox: list[tuple[str, bytes, asyncio.Future[None]]] = []
        # (UN)SUBSCRIBEs not sent yet, in call order, and the task sending them (see subscribe).
        self._subscription_outbox: list[_SubscriptionChange] = []
        self._subscription_sender: asyncio.Future[None] | None = None
        self._subscription_lock = asyncio.Lock()

    async def subscribe(self, channel: str) -> None:
        """channels_redis sends each SUBSCRIBE under the same lock as the publishes, one command
        per call. Every socket subscribes twice as it opens (its own channel, its conversation's
        group), so while 300 sockets connected ~170-250 of them waited for that lock behind the
        publishes, each handed it one event-loop turn after the last (docs/performance.md, "the
        connection burst"). The (UN)SUBSCRIBEs go out on the Pub/Sub connection, not the
        publishing one, so here they have a sender of their own: one task sends whatever is
        queued, a run of SUBSCRIBEs as one command, until nothing is; callers only wait for their
        own change, never for a lock one after the other. Like channels_redis's, a call returns
        once its command is written (redis-py reads the confirmation in the receive loop), so
        "joined the group before the handshake completes" keeps its meaning."""
        await self._change_subscription("subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._change_subscription("unsubscribe", channel)

    async def flush(self) -> None:
        async with self._subscription_lock:
            await super().flush()

    async def _change_subscription(self, kind: str, channel: str) -> None:
        change = _SubscriptionChange(kind, channel, asyncio.get_running_loop().create_future())
        self._subscription_outbox.append(change)
        if self._subscription_sender is None or self._subscription_sender.done():
            self._subscription_sender = asyncio.ensure_future(self._send_subscriptions())
        try:
            error = await asyncio.shield(change.done)
        except asyncio.CancelledError:
            if change in self._subscription_outbox:  # not sent yet: never send it
                self._subscription_outbox.remove(change)
            raise
        if error is not None:
            raise error

    async def _send_subscriptions(self) -> None:
        async with self._subscription_lock:  # against flush()
            while self._subscription_outbox:
                batch, self._subscription_outbox = self._subscription_outbox, []
                error: BaseException | None = None
                try:
                    await self._send_subscription_changes(batch)
                except Exception as failure:  # each caller of the batch raises it, as each would have alone
                    error = failure
                for change in batch:
                    if not change.done.done():
                        change.done.set_result(error)

    async def _send_subscription_changes(self, batch: list[_SubscriptionChange]) -> None:
        """Send the batch in call order: consecutive changes of one kind as one command, skipping
        those that change nothing (as channels_redis's own subscribe and unsubscribe do)."""
        subscribed = set(self._subscribed_to)
        commands: list[tuple[str, list[str]]] = []
        for change in batch:
            if (change.channel in subscribed) == (change.kind == "subscribe"):
                continue
            if change.kind == "subscribe":
                subscribed.add(change.channel)
            else:
                subscribed.discard(change.channel)
            if commands and commands[-1][0] == change.kind:
                commands[-1][1].append(change.channel)
            else:
                commands.append((change.kind, [change.channel]))
        if not commands:
            return
        self._ensure_redis()
        self._ensure_receiver()
        for kind, channels in commands:
            if kind == "subscribe":
                await self._pubsub.subscribe(*channels)
                self._subscribed_to.update(channels)
            else:
                await self._pubsub.unsubscribe(*channels)
                self._subscribed_to.difference_update(channels)

    async def publish(self, channel: str, message: bytes) -> None:
        """channels_redis sends one PUBLISH per call under the shard's lock: one round trip each,
        one after the other. Under load that queue grew to 30 and more waiters per process, and
        every publish of the process (a turn's deltas and final message, a customer's own message)
        waited for all of them: seconds, in the latency tail (docs/performance.md). Here each call
        queues its message, and whoever holds the lock sends everything queued by then as one
        pipeline, one round trip for the lot; the others find theirs sent. Order is kept: the
        outbox is in call order and so is the pipeline."""
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outbox.append((channel, message, sent))
        async with self._lock:
            if sent.done():
                return
            batch, self._outbox = self._outbox, []
            try:
                await self._publish_batch(batch)
            finally:  # sent or dropped (at-most-once, above): nobody waits for these any more
                for _, _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def _publish_batch(self, batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        # Twice: after a restart, the pooled connection from before it fails its first command
        # ("Connection closed by server"; redis-py's pool retries nothing by default), and the
        # second attempt gets a fresh one. Measured: without it, the first broadcast after every
        # Redis restart was lost.
        for attempt in (1, 2):
            try:
                self._ensure_redis()
                if len(batch) == 1:
                    await self._redis.publish(batch[0][0], batch[0][1])
                else:
                    pipe = self._redis.pipeline(transaction=False)
                    for channel, message, _ in batch:
                        pipe.publish(channel, message)
                    await pipe.execute()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
                if attempt == 2:
                    logger.warning(
                        "channel layer: %d publish(es) dropped, Redis at %s unavailable (%s)",
                        len(batch),
                        _host_name(self.host),
                        type(error).__name__,
                    )

    async def subscriber_count(self, channel: str) -> int:
        """How many Redis connections (one per process and loop) subscribe to `channel`."""
        async with self._lock:
            self._ensure_redis()
            [(_, count)] = await self._redis.pubsub_numsub(channel)
            return int(count)


class _RecoveringLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards: list[_RecoveringShard] = [_RecoveringShard(shard.host, self) for shard in self._shards]

    async def group_only_here(self, group: str) -> bool:
        """True when no other process subscribes to `group`: PUBSUB NUMSUB counts one connection
        per subscribed process, this one's included while it has members."""
        group_channel = self._get_group_channel_name(group)
        shard = self._get_shard(group_channel)
        here = 1 if group_channel in shard._subscribed_to else 0
        return await shard.subscriber_count(group_channel) <= here

    def group_send_here(self, group: str, message: dict) -> int:
        """What `group_send` does for this process's own members, without the trip through Redis
        (serialize, PUBLISH, the subscriber's read and parse); returns how many got it."""
        members = self.groups.get(self._get_group_channel_name(group), ())
        queues = [self.channels[name] for name in members if name in self.channels]
        if queues:
            data = self.channel_layer.serialize(message)  # receive() deserializes each copy
            for queue in queues:
                queue.put_nowait(data)
        return len(queues)


class RecoveringPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels_redis's Pub/Sub layer, announcing reconnects and dropping publishes Redis cannot take,
    with a process-local delivery for events only this process's sockets listen to (see
    `events.delta_audience_here`)."""

    async def group_only_here(self, group: str) -> bool:
        return await self._get_layer().group_only_here(group)

    def group_send_here(self, group: str, message: dict) -> int:
        return self._get_layer().group_send_here(group, message)

    def _get_layer(self) -> RedisPubSubLoopLayer:
        # As the parent's, with the recovering loop layer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _RecoveringLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer


def _host_name(host: dict[str, Any]) -> str:
    """The address without credentials, for logs."""
    address = host.get("address", "")
    if isinstance(address, str) and "@" in address:
        scheme, _, rest = address.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"
    return str(address)


async def retry_until_done(
    action: Callable[[], Awaitable[None]], *, what: str, first_delay: float = 0.5, max_delay: float = 5.0
) -> None:
    """Run `action` until it gets past the backing services' failures (with backoff): a catch-up
    that must happen once they are back, not be lost because they were not yet."""
    delay = first_delay
    while True:
        try:
            await action()
            return
        except INFRASTRUCTURE_ERRORS as error:
            logger.warning("%s failed (%s); retrying in %.1fs", what, type(error).__name__, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
