"""Webhook writes: endpoints and their secrets, emitting events into the outbox, retries, purges."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.delivery_tasks import webhook_deliver
from webhooks.models import EVENT_TYPES, EventType, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    conversation_ref,
    deliveries_due,
    webhook_subscribed_sites,
    webhook_subscriptions_invalidate,
)
from webhooks.signing import (
    secret_encrypt,
    secret_fingerprint,
    secret_generate,
    secret_rotate_ciphertext,
)

logger = logging.getLogger(__name__)

ROTATE_PERMISSION = "webhooks.rotate_webhook_secret"


def _subscriptions_changed() -> None:
    # Now for this process, and again at commit: a reader that refilled the cache from the old
    # rows in between would otherwise keep them for SUBSCRIPTIONS_CACHE_SECONDS.
    webhook_subscriptions_invalidate()
    transaction.on_commit(webhook_subscriptions_invalidate)


def webhook_endpoint_create(
    *, site_id: int, url: str, events: Iterable[str], description: str = "", is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, returned once to be shown once."""
    events = sorted(set(events))
    unknown = set(events) - set(EVENT_TYPES)
    if unknown or not events:
        raise ValueError(f"events must be some of {', '.join(EVENT_TYPES)}; got {sorted(unknown) or 'none'}")
    endpoint = WebhookEndpoint(site_id=site_id, url=url, events=events, description=description, is_active=is_active)
    secret = webhook_endpoint_secret_assign(endpoint=endpoint)
    endpoint.full_clean()
    endpoint.save()
    _subscriptions_changed()
    return endpoint, secret


def webhook_endpoint_secret_assign(*, endpoint: WebhookEndpoint) -> str:
    """Give a new (unsaved) endpoint its secret; returns it, to be shown once."""
    secret = secret_generate()
    endpoint.secret_ciphertext = secret_encrypt(secret)
    endpoint.secret_fingerprint = secret_fingerprint(secret)
    return secret


def webhook_endpoint_saved(*, endpoint: WebhookEndpoint) -> None:
    """An endpoint's URL, events or active flag changed (the admin form): the hot path must see it."""
    _subscriptions_changed()
    if endpoint.is_active:
        # Deliveries that waited while it was off go out with the next sweep.
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING, next_attempt_at__gt=timezone.now()
        ).update(next_attempt_at=timezone.now())


def webhook_endpoint_deleted() -> None:
    _subscriptions_changed()


def webhook_endpoint_secret_rotate(*, endpoint_id: int, actor: Any) -> str:
    """A new secret, returned once. The replaced one keeps signing alongside it for
    WEBHOOK_SECRET_GRACE_HOURS, so the receiver can switch without rejecting anything."""
    if not actor.has_perm(ROTATE_PERMISSION):
        raise PermissionDenied("rotating a webhook secret needs the rotate_webhook_secret permission")
    secret = secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
        endpoint.previous_secret_valid_until = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
        endpoint.secret_ciphertext = secret_encrypt(secret)
        endpoint.secret_fingerprint = secret_fingerprint(secret)
        endpoint.save(
            update_fields=[
                "secret_ciphertext",
                "secret_fingerprint",
                "previous_secret_ciphertext",
                "previous_secret_valid_until",
                "updated_at",
            ]
        )
    logger.info("webhook secret of endpoint %s rotated by user %s", endpoint_id, actor.pk)
    return secret


def webhook_secrets_reencrypt() -> int:
    """Re-encrypt every stored secret under the newest PII_VAULT_KEY, so an older key can be dropped."""
    changed = 0
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update().order_by("pk"):
            endpoint.secret_ciphertext = secret_rotate_ciphertext(endpoint.secret_ciphertext)
            if endpoint.previous_secret_ciphertext is not None:
                endpoint.previous_secret_ciphertext = secret_rotate_ciphertext(endpoint.previous_secret_ciphertext)
            endpoint.save(update_fields=["secret_ciphertext", "previous_secret_ciphertext"])
            changed += 1
    return changed


def _iso_now(now: datetime) -> str:
    return now.isoformat().replace("+00:00", "Z")


def webhook_events_enqueue(*, conversation_id: int, event: EventType, payload: Mapping[str, Any]) -> list[int]:
    """Record `event` for every active endpoint of the conversation's site subscribed to it, in
    the caller's transaction, and send each delivery task once that transaction commits.

    Cheap when nobody listens: one cached read of the subscription map (and, at most once per
    conversation and process, the conversation's site) before anything is written.
    """
    sites = webhook_subscribed_sites(event=event)
    if not sites:
        return []
    site_id, public_id = conversation_ref(conversation_id)
    if site_id not in sites:
        return []
    endpoints = list(
        WebhookEndpoint.objects.filter(site_id=site_id, is_active=True, events__contains=[event]).values_list(
            "pk", "site__key"
        )
    )
    if not endpoints:
        return []
    now = timezone.now()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {
        "id": event_id,
        "type": event,
        "created_at": _iso_now(now),
        "site": endpoints[0][1],
        "conversation_id": public_id,
        "data": dict(payload),
    }
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=endpoint_id, event_id=event_id, event_type=event, payload=body, next_attempt_at=now
            )
            for endpoint_id, _site_key in endpoints
        ]
    )
    ids = [delivery.pk for delivery in deliveries]
    # robust: a broker hiccup after the commit must not fail the caller's request; the sweep sends it.
    transaction.on_commit(lambda: _send_tasks(ids), robust=True)
    return ids


def _send_tasks(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        webhook_deliver.delay(delivery_id)


def webhook_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Send the deliveries that are due but have no task on its way: their task was lost, their
    backoff was longer than a Celery countdown may safely be (webhooks/delivery.py), their
    endpoint's cool-down ended, or the endpoint was switched back on."""
    due = deliveries_due(now=now or timezone.now(), limit=limit)
    _send_tasks(due)
    return due


def webhook_deliveries_retry(*, delivery_ids: Iterable[int]) -> int:
    """The admin's retry: one more attempt now (a failed delivery that fails again stays failed;
    a delivered one is sent again with the same Webhook-Id, which receivers deduplicate)."""
    ids = list(delivery_ids)
    now = timezone.now()
    updated = WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now, lease_until=None, delivered_at=None
    )
    transaction.on_commit(lambda: _send_tasks(ids), robust=True)
    return updated


def webhook_endpoint_breaker_reset(*, endpoint_id: int) -> int:
    """Close the breaker by hand (the receiver is fixed): waiting deliveries go out with the next sweep."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=0, circuit_open_until=None)
    return WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__gt=now
    ).update(next_attempt_at=now)


def webhook_deliveries_purge(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """The log keeps WEBHOOK_LOG_RETENTION_DAYS of deliveries (their payloads hold redacted texts)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    purged = 0
    while True:
        ids = list(WebhookDelivery.objects.filter(Q(created_at__lt=cutoff)).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return purged
        purged += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]


def webhook_deliveries_forget(*, conversation_public_ids: Iterable[str | uuid.UUID]) -> int:
    """Erasure: delete every delivery (sent or still waiting) about these conversations, so an
    erased customer's redacted texts and external id neither stay in the log nor go out later."""
    ids = [str(public_id) for public_id in conversation_public_ids]
    if not ids:
        return 0
    deleted, _ = WebhookDelivery.objects.filter(payload__conversation_id__in=ids).delete()
    return deleted
