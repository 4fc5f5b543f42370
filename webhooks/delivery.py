"""One delivery attempt: claim, check the endpoint's circuit breaker, sign, send, record.

Delivery is at least once: a worker killed after the receiver got the request but before the
row says so sends it again (same Webhook-Id), so receivers deduplicate on that id. Everything
else is claimed with conditional UPDATEs, so a task that is redelivered, swept or retried twice
never sends a delivery two workers at a time while its lease holds.

Backoff: attempt n waits WEBHOOK_BACKOFF_BASE_SECONDS * 2**(n-1) (capped, +-20 % jitter). Waits
short enough for a Celery countdown are retried by the task; longer ones are left to the beat
sweep, because with the Redis broker a countdown past the visibility timeout gets the message
handed out again while it waits.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoint_signing_secrets
from webhooks.signing import signature_header
from webhooks.transport import webhook_post

# A Celery countdown may wait at most this share of the visibility timeout (see the docstring).
_COUNTDOWN_SHARE_OF_VISIBILITY = 0.5


@dataclass(frozen=True)
class Attempted:
    """What the task should do next: `retry_in` seconds (a Celery retry), or nothing."""

    outcome: str  # delivered, failed, retrying, deferred, busy, gone
    retry_in: float | None = None


def lease_seconds() -> float:
    """An attempt ends within its timeout (webhooks/transport.py); the lease adds room for the database."""
    return 2 * settings.WEBHOOK_TIMEOUT_SECONDS + 2


def backoff_seconds(attempt: int) -> float:
    wait = settings.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    return min(wait, settings.WEBHOOK_BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)


def _countdown(seconds: float) -> float | None:
    """A wait the task may retry itself after, or None to leave it to the sweep."""
    limit = settings.CELERY_VISIBILITY_TIMEOUT * _COUNTDOWN_SHARE_OF_VISIBILITY
    return max(seconds, 0.05) if seconds <= limit else None


def _breaker_admits(endpoint_id: int, *, now: datetime) -> datetime | None:
    """None when the endpoint may be tried now; else until when its deliveries wait.

    After the cool-down (half-open) one attempt is let through: the first taker moves the
    cool-down on with a conditional UPDATE, so the others keep waiting for its verdict."""
    until = WebhookEndpoint.objects.filter(pk=endpoint_id).values_list("circuit_open_until", flat=True).first()
    if until is None:
        return None
    if until > now:
        return until
    trial_until = now + timedelta(seconds=settings.WEBHOOK_BREAKER_COOLDOWN_SECONDS)
    won = WebhookEndpoint.objects.filter(pk=endpoint_id, circuit_open_until=until).update(
        circuit_open_until=trial_until
    )
    return None if won else trial_until


def webhook_delivery_attempt(*, delivery_id: int) -> Attempted:
    now = timezone.now()
    tolerance = timedelta(milliseconds=50)  # the countdown was computed a moment before the stored time
    claimed = WebhookDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now + tolerance,
        endpoint__is_active=True,
    ).update(lease_until=now + timedelta(seconds=lease_seconds()))
    if not claimed:
        return _not_claimed(delivery_id, now=now)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint

    wait_until = _breaker_admits(endpoint.pk, now=now)
    if wait_until is not None:
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=wait_until, lease_until=None)
        return Attempted("deferred")

    WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    attempt = delivery.attempts + 1
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    headers = {
        "Webhook-Id": delivery.event_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature_header(
            secrets_=endpoint_signing_secrets(endpoint), timestamp=timestamp, body=body
        ),
    }
    result = webhook_post(url=endpoint.url, body=body, headers=headers)
    finished = timezone.now()
    entry = {
        "at": finished.isoformat(),
        "status_code": result.status_code,
        "error": result.error,
        "ms": round(result.duration_ms, 1),
        "retry_in": None,
    }
    if result.ok:
        _record_success(
            delivery_id,
            endpoint_id=endpoint.pk,
            status_code=result.status_code,
            now=finished,
            history=[*delivery.history, entry],
        )
        return Attempted("delivered")
    _record_endpoint_failure(endpoint.pk, now=finished)
    if attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED,
            last_status_code=result.status_code,
            last_error=result.error,
            lease_until=None,
            history=[*delivery.history, entry],
        )
        return Attempted("failed")
    wait = backoff_seconds(attempt)
    entry["retry_in"] = round(wait, 3)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        last_status_code=result.status_code,
        last_error=result.error,
        lease_until=None,
        next_attempt_at=finished + timedelta(seconds=wait),
        history=[*delivery.history, entry],
    )
    return Attempted("retrying", retry_in=_countdown(wait))


def _not_claimed(delivery_id: int, *, now: datetime) -> Attempted:
    """Someone else has it, or it is not due: only a live lease of another worker (which may
    have died) needs this task to come back; everything else has its own way forward."""
    row = WebhookDelivery.objects.filter(pk=delivery_id).values("status", "lease_until").first()
    if row is None or row["status"] != WebhookDelivery.Status.PENDING:
        return Attempted("gone")
    if row["lease_until"] is not None and row["lease_until"] >= now:
        return Attempted("busy", retry_in=_countdown((row["lease_until"] - now).total_seconds() + 0.2))
    return Attempted("busy")


def _record_success(
    delivery_id: int, *, endpoint_id: int, status_code: int | None, now: datetime, history: list[dict]
) -> None:
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.SUCCEEDED,
            delivered_at=now,
            last_status_code=status_code,
            last_error="",
            lease_until=None,
            history=history,
        )
        was_open = WebhookEndpoint.objects.filter(pk=endpoint_id, circuit_open_until__isnull=False).exists()
        WebhookEndpoint.objects.filter(pk=endpoint_id).exclude(consecutive_failures=0, circuit_open_until=None).update(
            consecutive_failures=0, circuit_open_until=None
        )
        if was_open:
            # The trial after a cool-down worked: what waited goes out with the next sweep.
            WebhookDelivery.objects.filter(
                endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__gt=now
            ).update(next_attempt_at=now)


def _record_endpoint_failure(endpoint_id: int, *, now: datetime) -> None:
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return
        endpoint.consecutive_failures += 1
        if endpoint.consecutive_failures >= settings.WEBHOOK_BREAKER_FAILURES:
            endpoint.circuit_open_until = now + timedelta(seconds=settings.WEBHOOK_BREAKER_COOLDOWN_SECONDS)
        endpoint.save(update_fields=["consecutive_failures", "circuit_open_until"])
