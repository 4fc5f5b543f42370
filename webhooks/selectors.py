"""Webhook reads: who subscribes to what (cached for the hot path), the secrets that sign, due deliveries."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from conversations.models import Conversation
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.signing import secret_decrypt

logger = logging.getLogger(__name__)

SUBSCRIPTIONS_CACHE_KEY = "webhooks:subscriptions:v1"
# Bounds how long a stale map could live if an invalidation raced a reader's refill.
SUBSCRIPTIONS_CACHE_SECONDS = 60
# Each process also keeps the map this long: on a busy socket process most messages then cost no
# round trip at all (measured in benchmarks/webhook_emit.py). An endpoint saved in another
# process is seen this much later; in the saving process, at once.
SUBSCRIPTIONS_LOCAL_SECONDS = 1.0
_local: tuple[float, dict[str, list[int]]] | None = None


def _subscriptions_from_db() -> dict[str, list[int]]:
    by_event: dict[str, set[int]] = {}
    for site_id, events in WebhookEndpoint.objects.filter(is_active=True).values_list("site_id", "events"):
        for event in events:
            by_event.setdefault(event, set()).add(site_id)
    return {event: sorted(sites) for event, sites in by_event.items()}


def _subscriptions() -> dict[str, list[int]]:
    global _local
    now = time.monotonic()
    memo = _local
    if memo is not None and memo[0] > now:
        return memo[1]
    try:
        subscriptions = cache.get(SUBSCRIPTIONS_CACHE_KEY)
    except RedisError:
        logger.warning("webhook subscriptions: cache unavailable, reading the database")
        return _subscriptions_from_db()
    if subscriptions is None:
        subscriptions = _subscriptions_from_db()
        try:
            cache.set(SUBSCRIPTIONS_CACHE_KEY, subscriptions, SUBSCRIPTIONS_CACHE_SECONDS)
        except RedisError:
            pass
    _local = (now + SUBSCRIPTIONS_LOCAL_SECONDS, subscriptions)
    return subscriptions


def webhook_subscribed_sites(*, event: str) -> frozenset[int]:
    """The sites with an active endpoint subscribed to `event`: a cached map (per process for a
    second, then Redis), dropped whenever an endpoint is saved or deleted."""
    return frozenset(_subscriptions().get(event, ()))


def webhook_subscriptions_invalidate() -> None:
    global _local
    _local = None
    cache.delete(SUBSCRIPTIONS_CACHE_KEY)


@lru_cache(maxsize=50_000)
def conversation_ref(conversation_id: int) -> tuple[int, str]:
    """(site id, public id) of a conversation. Neither ever changes (and ids are never reused),
    so each process keeps the answer: one query per conversation and process, and only once some
    site subscribes to the event at hand."""
    site_id, public_id = Conversation.objects.filter(pk=conversation_id).values_list("site_id", "public_id").get()
    return site_id, str(public_id)


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """The secrets that sign a request now: the current one, and the replaced one during its grace period."""
    now = now or timezone.now()
    secrets_ = [secret_decrypt(endpoint.secret_ciphertext)]
    if (
        endpoint.previous_secret_ciphertext is not None
        and endpoint.previous_secret_valid_until is not None
        and endpoint.previous_secret_valid_until > now
    ):
        try:
            secrets_.append(secret_decrypt(endpoint.previous_secret_ciphertext))
        except InvalidToken:
            logger.warning(
                "webhook endpoint %s: the previous secret no longer decrypts; signing with the current one", endpoint.pk
            )
    return secrets_


def deliveries_due(*, now: datetime, limit: int) -> list[int]:
    """Pending deliveries whose time has come (and whose task, if any, should have run by now:
    WEBHOOK_SWEEP_GRACE_SECONDS), on endpoints that are on and not cooling down, oldest first.
    Half-open endpoints (cool-down over) get one: the trial that decides whether the rest follow."""
    due_before = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    pending = WebhookDelivery.objects.filter(
        free, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=due_before, endpoint__is_active=True
    )
    closed = list(
        pending.filter(endpoint__circuit_open_until__isnull=True)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    trials = []
    for endpoint_id in WebhookEndpoint.objects.filter(is_active=True, circuit_open_until__lte=now).values_list(
        "pk", flat=True
    )[:limit]:
        first = pending.filter(endpoint_id=endpoint_id).order_by("next_attempt_at").values_list("pk", flat=True).first()
        if first is not None:
            trials.append(first)
    return closed + trials
