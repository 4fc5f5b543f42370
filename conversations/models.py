"""Sites that embed the widget, their customers, conversations and messages.

Message.seq is the backbone of the chat protocol: assigned in the database under a row lock on
the conversation, unique and strictly increasing per conversation, so `resume` can replay
exactly what a client missed (the channel layer itself is at-most-once).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


def _new_site_key() -> str:
    return "site_" + secrets.token_urlsafe(12)


def _new_identity_secret() -> str:
    return secrets.token_hex(32)


class WidgetSite(models.Model):
    """A website that embeds the widget: its public key, allowed origins and identity secret."""

    class LauncherPosition(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    key = models.CharField(max_length=64, unique=True, default=_new_site_key, help_text="Public site key for the script tag.")
    name = models.CharField(max_length=120, help_text="Company name shown in the widget header.")
    allowed_origins = ArrayField(
        models.CharField(max_length=255),
        default=list,
        blank=True,
        help_text="Origins allowed to open the widget, e.g. https://shop.example.com (comma-separated).",
    )
    identity_secret = models.CharField(
        max_length=128,
        default=_new_identity_secret,
        help_text="Server-side secret the host site uses to sign user ids (HMAC-SHA256). Never put it in a page.",
    )
    accent_color = models.CharField(
        max_length=7,
        default="#4f46e5",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour like #4f46e5.")],
    )
    launcher_position = models.CharField(max_length=5, choices=LauncherPosition.choices, default=LauncherPosition.RIGHT)
    greeting = models.CharField(max_length=200, default="Hi there! Ask us anything.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def allows_origin(self, origin: str | None) -> bool:
        return bool(origin) and origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins}


class Customer(models.Model):
    """An end customer: anonymous, or identified by the host site's own (signed) user id."""

    site = models.ForeignKey(WidgetSite, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="The host site's user id, set only when its signature verified."
    )
    anonymous_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_unique_external_id_per_site",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_verified(self) -> bool:
        return self.external_id is not None

    @property
    def display_name(self) -> str:
        if self.external_id:
            return f"User {self.external_id}"
        return f"Visitor {str(self.anonymous_id)[:6]}"


class Conversation(models.Model):
    class HandoffReason(models.TextChoices):
        CUSTOMER_REQUEST = "customer_request", "Asked for a human"
        MISSING_KNOWLEDGE = "missing_knowledge", "No answer found"
        UNSUPPORTED_REQUEST = "unsupported_request", "Unsupported request"
        POLICY_RESTRICTION = "policy_restriction", "Policy restriction"
        TOOL_FAILURE = "tool_failure", "Action failed"
        PENDING_CLARIFICATION = "pending_clarification", "Needs clarification"
        USAGE_LIMIT = "usage_limit", "Usage limit reached"

    class Status(models.TextChoices):
        BOT = "bot", "Bot"
        QUEUED = "queued", "Queued for a human"
        HUMAN = "human", "With an agent"
        RESOLVED = "resolved", "Resolved"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    site = models.ForeignKey(WidgetSite, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOT)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    # The highest seq handed out so far; bumped under a row lock by message_post.
    last_seq = models.BigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    handoff_reason = models.CharField(max_length=40, blank=True, default="", choices=HandoffReason.choices)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-last_message_at"], name="conversation_inbox_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat_score__isnull=True) | Q(csat_score__gte=1, csat_score__lte=5),
                name="conversation_csat_score_range",
            )
        ]

    def __str__(self) -> str:
        return f"Conversation {self.public_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class Message(models.Model):
    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    # The sender's idempotency key: retrying the same client_id returns the stored message.
    client_id = models.UUIDField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_messages"
    )
    # Citations, proposed actions, usage and latency land here as later features add them.
    extras = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(seq__gt=0), name="message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.role}"
