"""Abuse and cost limits: fixed-window counters in Redis (through Django's cache), shared by every
Daphne process, so a client cannot dodge them by reconnecting to another machine.

Hand-written on purpose: each limit is two Redis commands (SET NX + INCRBY) and the windows are
product rules (per conversation, per IP, per site and day), which no rate-limit library we could
install here models without a database of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from supportbot.client_ip import client_ip_limit_key
from supportbot.redis_pool import cache_redis


@dataclass(frozen=True)
class LimitExceeded:
    code: str  # the protocol's error code: rate_limited or budget_exceeded
    message: str
    retry_after: float


def _window_count(key: str, *, window_seconds: int, amount: int = 1) -> tuple[int, float]:
    return _window_counts([(key, window_seconds)], amount=amount)[0]


def _window_counts(limits: list[tuple[str, int]], *, amount: int = 1) -> list[tuple[int, float]]:
    """Several windows counted in one Redis round trip (a pipeline of SET NX EX + INCRBY per key,
    what cache.add + cache.incr do in two): the limits checked on every chat message, and both
    token counters of a model call, cost one round trip, not two per limit. The keys are the
    cache's own (same prefix and version), so `_peek_many` reads them."""
    now = time.time()
    pipeline = _redis().pipeline(transaction=False)
    retries = []
    for key, window_seconds in limits:
        window = int(now // window_seconds)
        full_key = cache.make_and_validate_key(f"limit:{key}:{window}")
        pipeline.set(full_key, 0, ex=window_seconds + 5, nx=True)
        pipeline.incrby(full_key, amount)
        retries.append((window + 1) * window_seconds - now)
    replies = pipeline.execute()
    return [(int(count), retry) for count, retry in zip(replies[1::2], retries)]


def _peek_many(limits: list[tuple[str, int]]) -> list[int]:
    """The current counts of several windows in one MGET."""
    now = time.time()
    keys = [f"limit:{key}:{int(now // window_seconds)}" for key, window_seconds in limits]
    found = cache.get_many(keys)
    return [int(found.get(key) or 0) for key in keys]


def _redis() -> Any:
    """The process's one redis-py client on the cache's shared pool: Django's RedisCache builds a
    new client object for every operation, most of a counter's CPU here."""
    return cache_redis()


# Per-IP limits cannot count a client whose address is unknown (see supportbot/client_ip.py):
# such a client is refused rather than let through uncounted.
UNKNOWN_CLIENT = LimitExceeded("rate_limited", "your network address could not be determined", 60.0)


def message_limits_check(*, conversation_id: int, client_ip: str | None) -> LimitExceeded | None:
    """Count one customer frame that stores or sends something (a message, a rating, a transcript
    request) against the per-conversation and per-IP minute limits (a frame refused by one limit
    still counts against the other: it was sent)."""
    limits = [(f"conv-msg:{conversation_id}", 60)]
    if client_ip:
        limits.append((f"ip-msg:{client_ip_limit_key(client_ip)}", 60))
    counts = _window_counts(limits)
    count, retry = counts[0]
    if count > settings.LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE:
        return LimitExceeded("rate_limited", "too many messages in this conversation; wait a moment", retry)
    if not client_ip:
        return UNKNOWN_CLIENT
    count, retry = counts[1]
    if count > settings.LIMIT_MESSAGES_PER_IP_PER_MINUTE:
        return LimitExceeded("rate_limited", "too many messages from your network; wait a moment", retry)
    return None


def conversation_open_limit_check(*, client_ip: str | None) -> LimitExceeded | None:
    if not client_ip:
        return UNKNOWN_CLIENT
    count, retry = _window_count(f"ip-conv:{client_ip_limit_key(client_ip)}", window_seconds=3600)
    if count > settings.LIMIT_CONVERSATIONS_PER_IP_PER_HOUR:
        return LimitExceeded("rate_limited", "too many new conversations from your network; try again later", retry)
    return None


def token_budget_check(*, conversation_id: int, site_id: int) -> LimitExceeded | None:
    """Is there budget left for another model call today? (Denial of wallet.)"""
    day = 86_400
    spent_conversation, spent_site = _peek_many(
        [(f"tokens-conv:{conversation_id}", day), (f"tokens-site:{site_id}", day)]
    )
    if spent_conversation >= settings.LLM_DAILY_TOKENS_PER_CONVERSATION:
        return LimitExceeded("budget_exceeded", "this conversation reached its daily limit", 0)
    if spent_site >= settings.LLM_DAILY_TOKENS_PER_SITE:
        return LimitExceeded("budget_exceeded", "the assistant reached its daily limit", 0)
    return None


def token_budget_spend(*, conversation_id: int, site_id: int, tokens: int) -> None:
    if tokens > 0:
        _window_counts([(f"tokens-conv:{conversation_id}", 86_400), (f"tokens-site:{site_id}", 86_400)], amount=tokens)


def abuse_strike(*, conversation_id: int) -> int:
    """Count a flagged message; the caller hands off once the strikes reach the limit."""
    count, _ = _window_count(f"abuse:{conversation_id}", window_seconds=86_400)
    return count


TRANSCRIPTS_PER_CONVERSATION_PER_HOUR = 3


def transcript_limit_check(*, conversation_id: int) -> LimitExceeded | None:
    """Transcript emails go to any address the customer names: a few per hour is plenty."""
    count, retry = _window_count(f"transcript:{conversation_id}", window_seconds=3600)
    if count > TRANSCRIPTS_PER_CONVERSATION_PER_HOUR:
        return LimitExceeded("rate_limited", "too many transcript requests; try again later", retry)
    return None


TRANSCRIPTS_PER_RECIPIENT_PER_HOUR = 3


def transcript_recipient_limit_check(*, email: str) -> LimitExceeded | None:
    """However many conversations ask, one mailbox gets a few transcripts an hour: the limit that
    keeps the widget from being a mail cannon aimed at one person. The key is a keyed hash, so
    Redis never holds the address and a dump of it cannot be matched against a list of emails."""
    digest = hmac.new(settings.SECRET_KEY.encode(), email.strip().casefold().encode(), hashlib.sha256).hexdigest()
    count, retry = _window_count(f"transcript-to:{digest[:32]}", window_seconds=3600)
    if count > TRANSCRIPTS_PER_RECIPIENT_PER_HOUR:
        return LimitExceeded("rate_limited", "too many transcripts to this address; try again later", retry)
    return None
