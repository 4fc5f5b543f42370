"""Who handles a conversation when the bot steps back: teams, queues, agents' capacity and
presence, and the handoff itself with its audit trail.

At most one handoff per conversation is open at a time (a partial unique index, so two racing
triggers cannot both create one); every workflow step claims its work with a conditional UPDATE,
so a Celery task that is redelivered after a crash never does its step twice.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from conversations.lib.hours import hours_validate, timezone_validate
from conversations.models.chat import HandoffReason, handoff_reason_label


class Team(models.Model):
    name = models.CharField(max_length=80, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="support_teams")

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    """Where handoffs wait. Agents reach a queue's conversations through its teams."""

    name = models.CharField(max_length=80, unique=True)
    teams = models.ManyToManyField(Team, blank=True, related_name="queues")
    is_default = models.BooleanField(default=False, help_text="Handoffs that match no other queue land here.")
    keywords = ArrayField(
        models.CharField(max_length=60),
        default=list,
        blank=True,
        help_text="Words or phrases in the customer's messages that route a handoff here (comma-separated).",
    )
    categories = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Knowledge article categories: a conversation that cited one routes here (comma-separated).",
    )
    reasons = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        help_text="Handoff reasons routed here, e.g. tool_failure (comma-separated).",
    )
    sla_minutes = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Unclaimed after this many minutes (of business hours): the queue's agents are notified again.",
    )
    escalate_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1)],
        help_text="Unclaimed after this many minutes: supervisors are notified.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[timezone_validate])
    hours = models.CharField(
        max_length=200,
        blank=True,
        default="",
        validators=[hours_validate],
        help_text='Business hours, e.g. "mon-fri 09:00-17:00, sat 10:00-14:00". Empty: always open.',
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="queue_single_default")
        ]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    class Presence(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    capacity = models.PositiveSmallIntegerField(default=3, help_text="Conversations assigned to this agent at once.")
    presence = models.CharField(
        max_length=10,
        choices=Presence.choices,
        default=Presence.ONLINE,
        help_text="What the agent chose. Online also needs an open inbox tab.",
    )
    # Refreshed by the agent's open inbox sockets; an agent whose tabs are all gone stops counting
    # as online after HANDOFF_PRESENCE_TIMEOUT seconds, whatever they chose.
    socket_seen_at = models.DateTimeField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.presence})"


class Handoff(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for an agent"
        ASSIGNED = "assigned", "With an agent"
        RESOLVED = "resolved", "Resolved"
        RETURNED = "returned", "Handed back to the bot"

    OPEN_STATUSES = (Status.QUEUED, Status.ASSIGNED)

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="handoffs")
    reason = models.CharField(max_length=40, choices=HandoffReason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    summary = models.TextField(blank=True, default="", help_text="For the agent; placeholders, never raw PII.")
    summary_source = models.CharField(max_length=12, blank=True, default="")  # model or extractive
    # Workflow progress: each step claims its work by setting its timestamp where it is NULL.
    summarized_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_stage = models.PositiveSmallIntegerField(default=0)  # 0 running, 1 re-notified, 2 escalated
    after_hours = models.BooleanField(default=False)
    follow_up_email = models.CharField(max_length=40, blank=True, default="", help_text="A vault placeholder.")
    resolution_reason = models.CharField(max_length=40, blank=True, default="")
    return_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status__in=["queued", "assigned"]),
                name="handoff_one_open_per_conversation",
            ),
        ]
        indexes = [models.Index(fields=["status", "queue", "created_at"], name="handoff_waiting_idx")]

    def __str__(self) -> str:
        return f"Handoff {self.pk} ({self.reason}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def reason_label(self) -> str:
        return handoff_reason_label(self.reason)


class HandoffEvent(models.Model):
    """The handoff's audit trail: what happened, when and by whom (assignment exactly once, ...)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class InternalNote(models.Model):
    """An agent's note on a conversation. A separate table from messages, so no code path that
    sends messages to the customer (broadcast, replay, transcript email) can ever include one."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(help_text="Redacted like messages.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class CannedResponse(models.Model):
    shortcut = models.SlugField(max_length=40, unique=True, help_text="Typed as /shortcut in the composer.")
    title = models.CharField(max_length=120)
    text = models.TextField()

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
