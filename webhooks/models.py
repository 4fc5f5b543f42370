"""Webhook endpoints (per widget site) and the delivery log, which is also the outbox.

A delivery row is written in the same transaction as the change it reports (a message, a
resolution, ...): a rolled-back change never reaches a receiver, and a committed one always has
its row, even if the process dies before the Celery task is sent (the sweep sends it then).
"""

from __future__ import annotations

from typing import Literal, get_args

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from webhooks.targets import endpoint_url_validate

EventType = Literal[
    "conversation.created",
    "message.created",
    "handoff.opened",
    "handoff.assigned",
    "conversation.resolved",
    "csat.created",
    "action.executed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
EVENT_CHOICES = [(name, name) for name in EVENT_TYPES]


class WebhookEndpoint(models.Model):
    """Where a site's events go. The signing secret is stored encrypted (webhooks/signing.py):
    it must be recoverable to sign, so it cannot be a hash; it is shown once, on creation and on
    rotation, and never again."""

    site = models.ForeignKey("conversations.WidgetSite", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(
        max_length=2000, validators=[endpoint_url_validate], help_text="http(s) URL that receives a POST per event."
    )
    description = models.CharField(max_length=200, blank=True, default="")
    events = ArrayField(
        models.CharField(max_length=40, choices=EVENT_CHOICES), help_text="The events sent to this URL."
    )
    is_active = models.BooleanField(
        default=True, help_text="Off: nothing is sent; deliveries already queued wait until it is on again."
    )
    secret_ciphertext = models.BinaryField(editable=False)
    secret_fingerprint = models.CharField(max_length=16, editable=False)
    # Rotation: the replaced secret also signs (a second v1= in Webhook-Signature) until this moment,
    # so receivers keep verifying while they switch to the new one.
    previous_secret_ciphertext = models.BinaryField(null=True, editable=False)
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The circuit breaker: failures in a row, and until when nothing is tried (deliveries wait).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    circuit_open_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("rotate_webhook_secret", "Can rotate a webhook endpoint's signing secret")]
        indexes = [models.Index(fields=["site", "is_active"], name="webhook_endpoint_site_idx")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: its log entry and its retry state."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # Webhook-Id: the same for every attempt (and for every endpoint the event goes to), so a
    # receiver that sees it twice knows it is a redelivery.
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40, choices=EVENT_CHOICES)
    payload = models.JSONField(help_text="The body as sent (redacted texts only).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    next_attempt_at = models.DateTimeField()
    # Held by the worker sending it; a worker that dies leaves it to expire (and the redelivered
    # task, or the sweep, to take over).
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # One entry per attempt: {"at", "status_code", "error", "ms", "retry_in"} (at most WEBHOOK_MAX_ATTEMPTS,
    # plus retries from the admin).
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique_event"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"
