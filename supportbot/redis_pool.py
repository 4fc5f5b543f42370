"""One Redis connection pool per process for Django's cache and the counters and leases kept in it.

Why: Django keeps its cache backends in an asgiref `Local` (not thread-critical), whose storage is
a context variable. Every socket consumer runs in a context of its own, and when its first cache
call happens in a `db()` pool thread, that thread builds a new RedisCache there and asgiref copies
it back into the consumer's context, which keeps it for the socket's life. Each such backend built
its own redis-py pool, and the pool kept its connection open: one Redis connection (one file
descriptor, ~9 KB) per idle socket, until 10,000 sockets ran the process out of descriptors
(tests/conversations/test_redis_connections.py, docs/performance.md "Capacity").

`SharedConnectionPool` is the pool class Django's RedisCache is told to use (CACHES OPTIONS
`pool_class`, the cache's own extension point): its `from_url` hands every backend of the process
the same pool for the same URL and options, so connections are bounded by how many threads use
Redis at once, not by how many sockets exist. redis-py's pool is thread-safe and resets itself in
a forked child (it checks the pid), so one pool per process is its intended use.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, ClassVar, cast

import redis
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache


class SharedConnectionPool(redis.ConnectionPool):
    _shared: ClassVar[dict[str, SharedConnectionPool]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SharedConnectionPool:
        # repr, not the values: options may hold dicts (socket_keepalive_options), which do not hash.
        key = repr((url, sorted(kwargs.items())))
        with cls._shared_lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
            return pool

    @cached_property
    def client(self) -> redis.Redis:
        """One redis-py client on this pool for the whole process: building one costs ~15 KB and
        most of a limit check's CPU (Django's cache builds one per operation), and a client is
        thread-safe (each command takes a connection from the pool)."""
        return redis.Redis(connection_pool=self)


def cache_redis() -> redis.Redis:
    """The default cache's redis-py client, for what Django's cache API lacks (pipelines, Lua
    scripts), on the same shared pool and database as the cache itself."""
    # The default cache is Django's RedisCache with this pool class (settings CACHES); its pool is
    # reached through RedisCacheClient's `_get_connection_pool`, which builds no client object
    # (its `get_client` builds one per call); django-stubs do not declare it.
    pool = cast(RedisCache, cache)._cache._get_connection_pool(write=True)  # type: ignore[attr-defined]
    if not isinstance(pool, SharedConnectionPool):
        raise TypeError("CACHES['default'] must use OPTIONS pool_class supportbot.redis_pool.SharedConnectionPool")
    return pool.client
