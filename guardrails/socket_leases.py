"""Caps on open widget sockets, per conversation and per client network, shared by every process.

Each open socket holds a lease in two Redis sorted sets (member: its channel name, score: when
the lease runs out). A socket renews its leases while it lives and drops them when it closes; a
process that dies without closing simply stops renewing, and its leases lapse after
SOCKET_LEASE_SECONDS, so a crash never locks a customer out for longer than that.

Hand-written: a counter cannot forget the sockets of a dead process, and no library we have
models leases; the check-and-add is one Lua script so concurrent connects cannot both take the
last slot.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from supportbot.client_ip import client_ip_limit_key
from supportbot.redis_pool import cache_redis

SOCKET_LEASE_SECONDS = 90
SOCKET_LEASE_RENEW_SECONDS = 30

# KEYS: the lease sets; ARGV[1] now, ARGV[2] lease end, ARGV[3] member, then one cap per key.
# Returns 0 when every set had room (the member now holds a lease in each), else the 1-based
# index of the first full set (nothing is added anywhere).
_ACQUIRE = """
local now, until_, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZSCORE', key, member) == false and redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, until_, member)
  redis.call('EXPIRE', key, math.ceil(until_ - now) + 5)
end
return 0
"""


def _redis() -> Any:
    return cache_redis()  # the cache's own pool and database, for the script and pipelines


def _keys(*, conversation_id: int, client_ip: str) -> list[str]:
    return [
        cache.make_key(f"sockets:conv:{conversation_id}"),
        cache.make_key(f"sockets:ip:{client_ip_limit_key(client_ip)}"),
    ]


def socket_lease_acquire(*, conversation_id: int, client_ip: str | None, channel_name: str) -> str | None:
    """Take a socket slot for this conversation and network. Returns None when granted, else the
    reason it was refused."""
    if not client_ip:
        return "your network address could not be determined"
    now = time.time()
    full = _redis().eval(
        _ACQUIRE,
        2,
        *_keys(conversation_id=conversation_id, client_ip=client_ip),
        now,
        now + SOCKET_LEASE_SECONDS,
        channel_name,
        settings.CHAT_MAX_SOCKETS_PER_CONVERSATION,
        settings.CHAT_MAX_SOCKETS_PER_IP,
    )
    if full == 1:
        return "too many open connections to this conversation"
    if full == 2:
        return "too many open connections from your network"
    return None


def socket_lease_renew(*, conversation_id: int, client_ip: str, channel_name: str) -> None:
    until = time.time() + SOCKET_LEASE_SECONDS
    pipe = _redis().pipeline()
    for key in _keys(conversation_id=conversation_id, client_ip=client_ip):
        pipe.zadd(key, {channel_name: until}, xx=True)
        pipe.expire(key, SOCKET_LEASE_SECONDS + 5)
    pipe.execute()


def socket_lease_release(*, conversation_id: int, client_ip: str, channel_name: str) -> None:
    pipe = _redis().pipeline()
    for key in _keys(conversation_id=conversation_id, client_ip=client_ip):
        pipe.zrem(key, channel_name)
    pipe.execute()
