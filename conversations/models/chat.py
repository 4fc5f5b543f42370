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
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import translation

# The inbox's message search: Postgres full-text search with English stemming ("refunds" finds
# "refund").
MESSAGE_SEARCH_CONFIG = "english"


def _new_site_key() -> str:
    return "site_" + secrets.token_urlsafe(12)


def _new_identity_secret() -> str:
    return secrets.token_hex(32)


ATTACHMENT_TYPE_CHOICES = [
    ("image/png", "PNG image"),
    ("image/jpeg", "JPEG image"),
    ("image/gif", "GIF image"),
    ("image/webp", "WebP image"),
    ("application/pdf", "PDF document"),
]


def _default_attachment_types() -> list[str]:
    return [value for value, _ in ATTACHMENT_TYPE_CHOICES]


class WidgetSite(models.Model):
    """A website that embeds the widget: its public key, allowed origins and identity secret."""

    class LauncherPosition(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    key = models.CharField(
        max_length=64, unique=True, default=_new_site_key, help_text="Public site key for the script tag."
    )
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
    bot_enabled = models.BooleanField(
        default=True, help_text="Off: the bot never answers on this site; conversations wait for a person."
    )
    handoff_when_bot_off = models.BooleanField(
        "Route to the team when the bot is off",
        default=True,
        help_text="With the bot off, a customer message nobody is handling is routed to a queue, assigned and "
        "announced like a handoff. Off: such conversations wait in the inbox until an agent picks them up.",
    )
    # Rotation: the secret it replaced keeps verifying signatures until this moment, so host pages
    # rendered with the old secret keep working while the host site deploys the new one.
    previous_identity_secret = models.CharField(max_length=128, blank=True, default="", editable=False)
    previous_identity_secret_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    accept_unexpiring_signatures = models.BooleanField(
        "Accept signatures without an expiry",
        default=False,
        help_text="Migration switch: also accept the old signature over the user id alone (no expiry). Sites "
        "created before signed identities expired have it on; turn it off once the host site sends expiries.",
    )
    retention_days = models.PositiveIntegerField(
        "Keep conversations for (days)",
        default=0,
        help_text="Conversations with no activity for this many days are deleted with their messages and personal "
        "data (the metrics keep their numbers as daily aggregates). 0 keeps them forever. See docs/privacy.md.",
    )
    attachments_max_mb = models.PositiveSmallIntegerField(
        "Largest attachment (MB)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Customers and agents can send files up to this size.",
    )
    attachments_allowed_types = ArrayField(
        models.CharField(max_length=40, choices=ATTACHMENT_TYPE_CHOICES),
        default=_default_attachment_types,
        blank=True,
        help_text="File types customers and agents may send; empty turns attachments off. The type is read from "
        "the file's content, not its name.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("rotate_identity_secret", "Can rotate a site's identity secret")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return False
        return origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins}


class Customer(models.Model):
    """An end customer: anonymous, or identified by the host site's own (signed) user id."""

    site = models.ForeignKey(WidgetSite, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="The host site's user id, set only when its signature verified.",
    )
    anonymous_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    # Set by customer_erase (conversations/privacy/erasure.py): the row stays as a counted shell.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        permissions = [
            ("export_customer_data", "Can export everything stored about a customer (audited)"),
            ("erase_customer_data", "Can erase a customer's personal data (audited)"),
        ]
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
        if self.erased_at:
            return "Erased customer"
        if self.external_id:
            return f"User {self.external_id}"
        return f"Visitor {str(self.anonymous_id)[:6]}"


class HandoffReason(models.TextChoices):
    """Why a conversation went to a person: the conversation's last reason and each handoff's."""

    CUSTOMER_REQUEST = "customer_request", "Asked for a human"
    MISSING_KNOWLEDGE = "missing_knowledge", "No answer found"
    UNSUPPORTED_REQUEST = "unsupported_request", "Unsupported request"
    POLICY_RESTRICTION = "policy_restriction", "Policy restriction"
    TOOL_FAILURE = "tool_failure", "Action failed"
    PENDING_CLARIFICATION = "pending_clarification", "Needs clarification"
    USAGE_LIMIT = "usage_limit", "Usage limit reached"
    AGENT_TAKEOVER = "agent_takeover", "Agent joined"


def handoff_reason_label(reason: str) -> str:
    """The label people read; a reason older code stored that is no longer a choice reads as itself."""
    return HandoffReason(reason).label if reason in HandoffReason.values else reason


class Conversation(models.Model):
    HandoffReason = HandoffReason

    class ResolutionReason(models.TextChoices):
        ANSWERED = "answered", "Question answered"
        ORDER_FIXED = "order_fixed", "Order or account fixed"
        FOLLOW_UP = "follow_up", "Follow-up by email"
        NO_RESPONSE = "no_response", "Customer stopped replying"
        DUPLICATE = "duplicate", "Duplicate or spam"
        OTHER = "other", "Other"

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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    # The highest seq handed out so far; bumped under a row lock by message_post.
    last_seq = models.BigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    handoff_reason = models.CharField(max_length=40, blank=True, default="", choices=HandoffReason.choices)
    # The queue of the latest handoff: which agents may read the conversation (see selectors).
    queue = models.ForeignKey(
        "conversations.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    resolution_reason = models.CharField(max_length=40, blank=True, default="", choices=ResolutionReason.choices)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The bot's turn bookkeeping (conversations/bot/runner.py): customer messages up to
    # bot_answered_seq have been answered; a lease, claimed with a conditional UPDATE, makes
    # one process at a time run this conversation's turns, and expires if that process dies.
    bot_answered_seq = models.BigIntegerField(default=0)
    bot_lease_owner = models.CharField(max_length=64, blank=True, default="")
    bot_lease_until = models.DateTimeField(null=True, blank=True)
    bot_miss_streak = models.PositiveSmallIntegerField(default=0)  # turns in a row without a grounded answer
    # What the offline responder still waits for ({"intent": "cancel"} until it has an order number).
    bot_state = models.JSONField(default=dict, blank=True)
    # The commerce API's customer id when verified during the conversation (order number + email).
    verified_customer_id = models.CharField(max_length=64, blank=True, default="")
    # What an order number + email verification proved (that one order) and until when: it unlocks
    # no more than it proved, and not forever.
    verified_order_number = models.CharField(max_length=64, blank=True, default="")
    verified_until = models.DateTimeField(null=True, blank=True)
    # The widget's language (host page's lang, else the browser's), and the customer's language:
    # the widget's until a message is long enough to detect it (conversations/lib/language_detection.py). System
    # messages, the bot and transcripts use `language`.
    widget_language = models.CharField(max_length=8, blank=True, default="")
    language = models.CharField(max_length=8, blank=True, default="", help_text="The customer's language.")
    language_detected = models.BooleanField(default=False, help_text="Detected from the customer's messages.")

    class Meta:
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conversation_inbox_idx"),
            models.Index(fields=["status", "bot_lease_until"], name="conversation_bot_lease_idx"),
        ]
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

    @property
    def language_name(self) -> str:
        """In English, for agents (the inbox is in English)."""
        return translation.get_language_info(self.language)["name"] if self.language else ""

    @property
    def language_note(self) -> str:
        if not self.language:
            return ""
        name = self.language_name
        if self.language_detected:
            return f"{name}, detected from their messages"
        return f"{name}, the language of their browser or page"


class CsatRating(models.Model):
    """One rating per resolution: a conversation reopened and resolved again is rated again, and
    both ratings count. The conversation's csat_score/csat_comment mirror the latest one."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="csat_ratings")
    resolved_at = models.DateTimeField(help_text="The resolution this rating is for.")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csat_ratings",
        help_text="Who had the conversation when it was resolved.",
    )
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="", help_text="Redacted like every stored text.")
    rated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-resolved_at"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "resolved_at"], name="csat_one_rating_per_resolution"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="csat_rating_score_range"),
        ]
        indexes = [models.Index(fields=["resolved_at"], name="csat_rating_resolved_idx")]

    def __str__(self) -> str:
        return f"{self.score}/5 for {self.conversation_id}"


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
    # Stored, not only indexed: a search for a common word reads many rows, and Postgres rechecks
    # each against the document. Recomputing to_tsvector there put such a search's p95 at 1 s
    # instead of 0.11 s over 100k messages (benchmarks/inbox_search.py).
    search_document = models.GeneratedField(
        expression=SearchVector("text", config=MESSAGE_SEARCH_CONFIG), output_field=SearchVectorField(), db_persist=True
    )

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
        indexes = [GinIndex(fields=["search_document"], name="message_text_search_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.role}"


class MessageFeedback(models.Model):
    """The customer's thumbs up or down on one bot answer; rating again replaces the earlier one."""

    class Rating(models.TextChoices):
        UP = "up", "Helpful"
        DOWN = "down", "Not helpful"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="feedback")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True, default="", help_text="Redacted like every stored text.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.rating} on #{self.message_id}"


class ActionCall(models.Model):
    """A write on the customer's account the bot proposed: executed only after the customer
    confirms, exactly once (the idempotency key travels with every attempt)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for the customer"
        EXECUTING = "executing", "Executing"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled by the customer"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="actions")
    tool = models.CharField(max_length=64)
    arguments = models.JSONField(default=dict, help_text="Redacted: personal values are vault placeholders.")
    summary = models.TextField(help_text="What will happen, as shown on the customer's card (placeholders).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    idempotency_key = models.CharField(max_length=80, unique=True)
    customer_id = models.CharField(max_length=64, help_text="The commerce API customer the action is for.")
    result = models.JSONField(default=dict, blank=True, help_text="Redacted API answer.")
    error_code = models.CharField(max_length=40, blank=True, default="")
    proposed_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=20, blank=True, default="")
    execution_lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While executing: when the process running it is presumed dead and a worker takes over.",
    )

    class Meta:
        ordering = ["-proposed_at"]

    def __str__(self) -> str:
        return f"{self.tool} ({self.status})"


class ActionAttempt(models.Model):
    action = models.ForeignKey(ActionCall, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.FloatField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20)  # succeeded, failed, unavailable
    error_code = models.CharField(max_length=40, blank=True, default="")
    replayed = models.BooleanField(default=False)


class ModelCall(models.Model):
    """One call to the model endpoint: what it cost and how long it took."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="model_calls")
    turn_id = models.UUIDField(db_index=True)
    model = models.CharField(max_length=100)
    prompt_version = models.CharField(max_length=40)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    total_ms = models.FloatField(default=0)
    outcome = models.CharField(max_length=20)  # ok, failed
    error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
