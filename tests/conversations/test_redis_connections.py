"""One web process holds a bounded set of Redis connections, however many chat sockets it serves.

Ten thousand idle sockets on one Daphne once held ~two descriptors each and hit RLIMIT_NOFILE
("Too many open files") opening Redis connections: each socket had its own cache backend, hence
its own connection pool and connection (docs/performance.md, "Capacity"). The in-process socket
tests cannot see it (the test's own context already holds a cache backend the consumers inherit),
so this one counts, from Redis's side, the connections a real server holds.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from urllib.parse import urlencode

import pytest
import redis
import websockets
from django.conf import settings

from conversations.chat.widget_sessions import widget_session_open
from conversations.models import WidgetSite
from tests.conftest import free_port, start_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SOCKETS = 40
# Daphne's thread pool (where `db()` runs the consumers' cache, lease and limit calls): a shared
# pool holds at most one connection per thread using it at once.
THREADS = 4
# Every Redis connection the server opens carries this name (its REDIS_URL sets client_name).
SERVER_NAME = "idle-sockets-server"


def _server_redis_connections() -> int:
    """How many of Redis's clients (CLIENT LIST) the server opened: its REDIS_URL names them."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return sum(1 for entry in client.client_list() if entry["name"] == SERVER_NAME)
    finally:
        client.close()


def _named(url: str, name: str) -> str:
    """The same Redis, every connection opened through the URL named (redis-py's client_name)."""
    return url + ("&" if "?" in url else "?") + urlencode({"client_name": name})


async def _open_idle(url: str, origin: str) -> websockets.ClientConnection:
    """What an idle widget does: open with its token, `resume`, read up to `status`, then nothing."""
    socket = await websockets.connect(url, origin=origin, open_timeout=30, ping_interval=None)
    await socket.send(json.dumps({"type": "resume", "after_seq": 0}))
    while json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] != "status":
        pass
    return socket


async def _hold(urls: list[str], origin: str) -> tuple[int, int, int]:
    first = [await _open_idle(urls[0], origin)]
    after_one = _server_redis_connections()
    rest = []
    for start in range(1, len(urls), 10):  # in waves, as browsers arrive, not a connect storm
        rest += await asyncio.gather(*(_open_idle(url, origin) for url in urls[start : start + 10]))
    after_all = _server_redis_connections()
    still_open = sum(1 for s in first + rest if s.close_code is None)
    await asyncio.gather(*(s.close() for s in first + rest))
    return after_one, after_all, still_open


def test_idle_chat_sockets_share_the_processs_redis_connections(tmp_path):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    WidgetSite.objects.create(key="idle-site", name="Idle Co", allowed_origins=[origin], bot_enabled=False)
    sessions = [widget_session_open(site_key="idle-site", origin=origin) for _ in range(SOCKETS)]
    urls = [f"ws://127.0.0.1:{port}/ws/chat/{s.conversation.public_id}/?token={s.token}" for s in sessions]
    process = start_daphne(
        port,
        tmp_path / "daphne.log",
        PRELOAD_MODELS="false",
        PII_REDACTION_PROCESSES="0",  # idle sockets detect nothing: no model worker to start
        CHAT_MAX_SOCKETS_PER_IP="1000",  # every socket here comes from 127.0.0.1
        ASGI_THREADS=str(THREADS),
        REDIS_URL=_named(settings.REDIS_URL, SERVER_NAME),
    )
    try:
        after_one, after_all, still_open = asyncio.run(_hold(urls, origin))
    finally:
        process.kill()  # its sockets are closed; a graceful stop would only cost seconds
        process.wait()
    assert still_open == SOCKETS
    # With one socket: the process's fixed connections (the channel layer's Pub/Sub and publish,
    # Celery's) and one in the cache's pool. With more, only the cache's pool may grow, to one connection per
    # thread using it at once (plus the loop's own thread): a constant, not one per socket.
    assert after_all <= after_one + THREADS + 1, (
        f"{after_one} Redis connections with 1 socket, {after_all} with {SOCKETS}"
    )


async def test_cache_backends_built_in_each_sockets_context_share_one_pool():
    """The mechanism, in-process: each task starting from an empty context (as Daphne starts each
    consumer) gets a cache backend of its own from its first `db()` call, but the same pool and
    the same client for the limits and leases."""
    from django.core.cache import caches

    from conversations.core.async_db import db
    from supportbot.redis_pool import cache_redis

    def in_pool_thread() -> tuple[int, int, int]:
        backend = caches["default"]
        return id(backend), id(backend._cache._get_connection_pool(write=True)), id(cache_redis())

    loop = asyncio.get_running_loop()
    seen = await asyncio.gather(
        *(loop.create_task(db(in_pool_thread)(), context=contextvars.Context()) for _ in range(3))
    )
    backends, pools, clients = zip(*seen)
    assert len(set(backends)) == 3  # Django's per-context backends: why the pool must be shared
    assert len(set(pools)) == 1 and len(set(clients)) == 1
