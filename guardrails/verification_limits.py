"""Limits on order number + email verification, so an identity cannot be guessed.

Failures are counted per conversation, per client IP (IPv6 by its /64, which one subscriber
usually holds whole) and per order number, each in a window of VERIFY_LOCKOUT_MINUTES that starts
at its first failure. Reaching a limit locks verification for that conversation, network or order
for VERIFY_LOCKOUT_MINUTES. The order lock is what stops a guesser who spreads attempts over many
conversations and addresses; its cost is that a real customer of a targeted order waits or asks a
person (signed-in customers never verify, so they are not affected).

An attempt is counted before the API is asked and refunded when it succeeds or the API does not
answer: attempts racing from several conversations cannot overshoot a limit.

Hand-written, like guardrails/limits.py: a few Redis commands per attempt through Django's cache.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

# How long the latest client IP of a conversation is remembered for its bot turns: a turn starts
# within seconds of the message; the margin covers a turn re-run after a crash.
CLIENT_IP_SECONDS = 3600


@dataclass(frozen=True)
class VerificationLock:
    scopes: tuple[str, ...]  # which limits: "conversation", "ip", "order"
    newly_locked: bool  # this call set the lock (recorded once as the lockout)


@dataclass(frozen=True)
class _Scope:
    name: str
    key: str
    limit: int


def network_key(client_ip: str) -> str:
    """The address a per-IP limit counts: IPv4 as is, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def _scopes(*, conversation_id: int, client_ip: str | None, order_number: str) -> list[_Scope]:
    scopes = [
        _Scope("conversation", f"conv:{conversation_id}", settings.VERIFY_MAX_FAILURES),
        _Scope("order", f"order:{order_number}", settings.VERIFY_MAX_FAILURES_PER_ORDER),
    ]
    if client_ip:
        scopes.append(_Scope("ip", f"ip:{network_key(client_ip)}", settings.VERIFY_MAX_FAILURES_PER_IP))
    return scopes


def _seconds() -> int:
    return settings.VERIFY_LOCKOUT_MINUTES * 60


def _count(key: str, amount: int) -> int:
    cache.add(key, 0, timeout=_seconds())  # the window starts at the first attempt
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 0, timeout=_seconds())
        return cache.incr(key, amount)


def verification_attempt_begin(
    *, conversation_id: int, client_ip: str | None, order_number: str
) -> VerificationLock | None:
    """Count one attempt before the API is asked; a lock when one is in force (nothing counted)
    or when this attempt would go past a limit."""
    scopes = _scopes(conversation_id=conversation_id, client_ip=client_ip, order_number=order_number)
    locked = cache.get_many([f"verify-lock:{s.key}" for s in scopes])
    if locked:
        return VerificationLock(tuple(s.name for s in scopes if f"verify-lock:{s.key}" in locked), newly_locked=False)
    counts = [_count(f"verify-fail:{s.key}", 1) for s in scopes]
    over = [s for s, n in zip(scopes, counts) if n > s.limit]
    if over:
        for scope in over:
            cache.set(f"verify-lock:{scope.key}", 1, timeout=_seconds())
        return VerificationLock(tuple(s.name for s in over), newly_locked=True)
    return None


def verification_attempt_refund(*, conversation_id: int, client_ip: str | None, order_number: str) -> None:
    """The attempt was not a failed guess (it succeeded, or the API did not answer)."""
    for scope in _scopes(conversation_id=conversation_id, client_ip=client_ip, order_number=order_number):
        try:
            cache.decr(f"verify-fail:{scope.key}")
        except ValueError:
            pass  # the window ended meanwhile: nothing left to refund


def verification_failure_settle(
    *, conversation_id: int, client_ip: str | None, order_number: str
) -> VerificationLock | None:
    """After a failed attempt (already counted): lock the limits it used up, so the next attempt
    is refused without asking the API."""
    scopes = _scopes(conversation_id=conversation_id, client_ip=client_ip, order_number=order_number)
    counts = cache.get_many([f"verify-fail:{s.key}" for s in scopes])
    full = [s for s in scopes if int(counts.get(f"verify-fail:{s.key}") or 0) >= s.limit]
    for scope in full:
        cache.set(f"verify-lock:{scope.key}", 1, timeout=_seconds())
    return VerificationLock(tuple(s.name for s in full), newly_locked=True) if full else None


def verification_failures(*, conversation_id: int, client_ip: str | None, order_number: str) -> dict[str, int]:
    """The failures counted so far in each scope (for the audit record)."""
    scopes = _scopes(conversation_id=conversation_id, client_ip=client_ip, order_number=order_number)
    counts = cache.get_many([f"verify-fail:{s.key}" for s in scopes])
    return {s.name: int(counts.get(f"verify-fail:{s.key}") or 0) for s in scopes}


def conversation_client_ip_remember(*, conversation_id: int, client_ip: str | None) -> None:
    """The chat socket notes who sent the latest message: bot turns run apart from the socket and
    need the address for the per-IP limit. Kept in Redis only, never in the database."""
    if client_ip:
        cache.set(f"conv-ip:{conversation_id}", client_ip, timeout=CLIENT_IP_SECONDS)


def conversation_client_ip(*, conversation_id: int) -> str | None:
    return cache.get(f"conv-ip:{conversation_id}")
