"""Handoff reads: queue position and expected wait (for the customer), queue and agent loads (for
the workspace and supervisors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from conversations.core.people import support_agents
from conversations.core.protocol import WaitEstimate
from conversations.handoff.access import SUPERVISORS_GROUP
from conversations.handoff.presence_selectors import effective_presence
from conversations.models import AgentProfile, Conversation, Handoff, Queue

WAIT_SAMPLE = 20


def _in_queue(queue_id: int | None) -> Q:
    """None is the handoffs routed to no queue."""
    return Q(queue__isnull=True) if queue_id is None else Q(queue_id=queue_id)


def _minutes_per_handoff(queue_id: int | None, fallback: int) -> float:
    """The median time to assignment of the queue's latest handoffs, in minutes."""
    recent: list[timedelta] = list(
        Handoff.objects.filter(_in_queue(queue_id), assigned_at__isnull=False)
        .order_by("-assigned_at")
        .annotate(took=F("assigned_at") - F("created_at"))
        .values_list("took", flat=True)[:WAIT_SAMPLE]
    )
    if not recent:
        return fallback
    return median(took.total_seconds() for took in recent) / 60


def _estimate(position: int, per_handoff: float) -> WaitEstimate:
    return WaitEstimate(position=position, minutes=max(1, round(per_handoff * position)))


def handoff_wait_estimate(*, conversation_id: int) -> WaitEstimate | None:
    handoff = (
        Handoff.objects.select_related("queue")
        .filter(conversation_id=conversation_id, status=Handoff.Status.QUEUED)
        .first()
    )
    if handoff is None:
        return None
    ahead = Handoff.objects.filter(
        _in_queue(handoff.queue_id), status=Handoff.Status.QUEUED, created_at__lt=handoff.created_at
    ).count()
    per_handoff = _minutes_per_handoff(handoff.queue_id, handoff.queue.sla_minutes if handoff.queue else 5)
    return _estimate(ahead + 1, per_handoff)


def conversation_status_wait(conversation: Conversation) -> WaitEstimate | None:
    """What the customer's status frame shows about the queue: only a queued conversation waits."""
    if conversation.status != Conversation.Status.QUEUED:
        return None
    return handoff_wait_estimate(conversation_id=conversation.pk)


def queue_wait_estimates(*, queue_id: int | None, limit: int) -> list[tuple[int, WaitEstimate]]:
    """(conversation id, estimate) for the first `limit` waiting in a queue, in three queries."""
    waiting = list(
        Handoff.objects.filter(_in_queue(queue_id), status=Handoff.Status.QUEUED)
        .order_by("created_at")
        .values_list("conversation_id", flat=True)[:limit]
    )
    if not waiting:
        return []
    queue = None if queue_id is None else Queue.objects.filter(pk=queue_id).first()
    per_handoff = _minutes_per_handoff(queue_id, queue.sla_minutes if queue else 5)
    return [(conversation_id, _estimate(n, per_handoff)) for n, conversation_id in enumerate(waiting, start=1)]


@dataclass(frozen=True)
class QueueLoad:
    queue: Queue | None
    waiting: int
    oldest_waiting_since: datetime | None
    breached: int


def queue_loads(*, queue_ids: list[int] | None = None) -> list[QueueLoad]:
    """Waiting handoffs per queue (None: handoffs not routed to any queue)."""
    waiting = Handoff.objects.filter(status=Handoff.Status.QUEUED)
    if queue_ids is not None:
        waiting = waiting.filter(Q(queue_id__in=queue_ids) | Q(queue__isnull=True))
    # queue id -> (waiting, oldest waiting since, breached)
    counts: dict[int | None, tuple[int, datetime | None, int]] = {
        row["queue_id"]: (row["n"], row["oldest"], row["breached"])
        for row in waiting.values("queue_id").annotate(
            n=Count("id"), oldest=Min("created_at"), breached=Count("id", filter=Q(sla_stage__gt=0))
        )
    }
    queues = Queue.objects.all() if queue_ids is None else Queue.objects.filter(id__in=queue_ids)
    loads = [QueueLoad(q, *counts.get(q.pk, (0, None, 0))) for q in queues]
    if None in counts:
        loads.append(QueueLoad(None, *counts[None]))
    return loads


@dataclass(frozen=True)
class AgentLoad:
    user: Any
    presence: str
    assigned: int
    capacity: int
    is_supervisor: bool


def agent_loads() -> list[AgentLoad]:
    users = (
        support_agents()
        .annotate(assigned=Count("handoffs", filter=Q(handoffs__status=Handoff.Status.ASSIGNED), distinct=True))
        .order_by("first_name", "username")
    )
    profiles = {p.user_id: p for p in AgentProfile.objects.all()}
    supervisors = set(
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name=SUPERVISORS_GROUP))
        .values_list("id", flat=True)
    )
    return [
        AgentLoad(
            u,
            effective_presence(profiles.get(u.pk)),
            u.assigned,
            profiles[u.pk].capacity if u.pk in profiles else AgentProfile._meta.get_field("capacity").default,
            u.pk in supervisors,
        )
        for u in users
    ]


def waiting_since(handoff: Handoff) -> timedelta:
    return timezone.now() - handoff.created_at
