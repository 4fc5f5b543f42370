"""The escalation workflow's steps, run by Celery tasks (conversations/handoff/tasks.py):

    summarize -> route -> assign (or leave queued) -> notify -> SLA (re-notify, then escalate)

Each step re-reads the handoff by id, exits quietly when it is gone or already past this step, and
claims its work with a conditional UPDATE whose row count says whether this run won. A step that
is redelivered after a crash therefore finishes the job or does nothing; it never does it twice.
Model calls and emails happen outside transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop, ngettext_lazy

from conversations.chat.messages import system_message_post
from conversations.core import events
from conversations.core.people import support_agents
from conversations.core.protocol import author_name
from conversations.handoff.access import SUPERVISORS_GROUP, queue_agents_q
from conversations.handoff.presence_selectors import agents_online
from conversations.handoff.routing import queue_choose
from conversations.handoff.selectors import handoff_wait_estimate, queue_wait_estimates
from conversations.handoff.status import conversation_status_publish
from conversations.handoff.summary import handoff_summary
from conversations.lib.hours import next_opening, opening_describe
from conversations.models import AgentProfile, Conversation, Handoff, HandoffEvent, Queue
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue

logger = logging.getLogger(__name__)

WAITING_BATCH = 100


def _event(handoff_id: int, kind: str, **detail: Any) -> None:
    HandoffEvent.objects.create(handoff_id=handoff_id, kind=kind, detail=detail)


def _refresh(conversation_id: int) -> None:
    conversation_status_publish(conversation_id=conversation_id)


# -- summarize ------------------------------------------------------------------------------


def handoff_summarize_step(*, handoff_id: int) -> bool:
    handoff = Handoff.objects.filter(pk=handoff_id).first()
    if handoff is None:
        return False
    if handoff.summarized_at is None:
        summary, source = handoff_summary(conversation_id=handoff.conversation_id, reason=handoff.reason)
        with transaction.atomic():
            won = Handoff.objects.filter(pk=handoff_id, summarized_at__isnull=True).update(
                summary=summary, summary_source=source, summarized_at=timezone.now()
            )
            if won:
                _event(handoff_id, "summarized", source=source)
                _refresh(handoff.conversation_id)
    return True


# -- route ----------------------------------------------------------------------------------


def handoff_route_step(*, handoff_id: int) -> bool:
    handoff = Handoff.objects.filter(pk=handoff_id).first()
    if handoff is None:
        return False
    if handoff.routed_at is None:
        queue = queue_choose(conversation_id=handoff.conversation_id, reason=handoff.reason)
        now = timezone.now()
        opening = next_opening(queue.hours, queue.timezone, now) if queue else now
        sla_due = opening + timedelta(minutes=queue.sla_minutes if queue else 5)
        with transaction.atomic():
            won = Handoff.objects.filter(pk=handoff_id, routed_at__isnull=True).update(
                queue=queue, routed_at=now, after_hours=opening > now, sla_due_at=sla_due
            )
            if won:
                Conversation.objects.filter(pk=handoff.conversation_id).update(queue=queue)
                _event(handoff_id, "routed", queue=queue.pk if queue else None, after_hours=opening > now)
                _refresh(handoff.conversation_id)
    return True


# -- assign ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    handoff_id: int
    agent: Any


def handoff_assign_step(*, handoff_id: int) -> Assignment | None:
    """Give a waiting handoff to the least-loaded online agent of its queue with free capacity.

    The handoff row and the candidates' profile rows are locked (profiles in id order, so two
    assignments never deadlock): two handoffs assigned at once cannot both take an agent's
    last free slot, and one handoff cannot be assigned twice.
    """
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().filter(pk=handoff_id).first()
        if handoff is None or handoff.status != Handoff.Status.QUEUED or handoff.assignee_id is not None:
            return None
        queue = None if handoff.queue_id is None else Queue.objects.filter(pk=handoff.queue_id).first()
        candidate_ids = list(agents_online(queue_agents_q(queue)).values_list("id", flat=True))
        if not candidate_ids:
            return None
        profiles = {
            p.user_id: p
            for p in AgentProfile.objects.select_for_update().filter(user_id__in=candidate_ids).order_by("user_id")
        }
        loads = dict(
            Handoff.objects.filter(status=Handoff.Status.ASSIGNED, assignee_id__in=candidate_ids)
            .values("assignee_id")
            .annotate(n=Count("id"))
            .values_list("assignee_id", "n")
        )
        free = [p for p in profiles.values() if loads.get(p.user_id, 0) < p.capacity]
        if not free:
            return None
        epoch = timezone.now() - timedelta(days=3650)
        chosen = min(free, key=lambda p: (loads.get(p.user_id, 0), p.last_assigned_at or epoch, p.user_id))
        now = timezone.now()
        won = Handoff.objects.filter(pk=handoff_id, status=Handoff.Status.QUEUED, assignee__isnull=True).update(
            status=Handoff.Status.ASSIGNED, assignee_id=chosen.user_id, assigned_at=now
        )
        if not won:
            return None
        AgentProfile.objects.filter(pk=chosen.pk).update(last_assigned_at=now)
        Conversation.objects.filter(pk=handoff.conversation_id).update(
            status=Conversation.Status.HUMAN, assignee_id=chosen.user_id, updated_at=now
        )
        _event(handoff_id, "assigned", assignee=chosen.user_id, auto=True)
        agent = chosen.user
        webhook_events_enqueue(
            conversation_id=handoff.conversation_id,
            event="handoff.assigned",
            payload=webhook_payloads.handoff_assigned(handoff, agent=agent, by=None, kind="assigned"),
        )
        system_message_post(
            conversation_id=handoff.conversation_id,
            text=gettext_noop("%(name)s joined the conversation."),
            params={"name": author_name(agent)},
        )
        _refresh(handoff.conversation_id)
        _positions_refresh(queue_id=handoff.queue_id)
    return Assignment(handoff_id=handoff_id, agent=agent)


# Those further back see their position when it next changes within this window (or on resume):
# refreshing everybody would make every assignment cost O(queue length) under a burst.
POSITION_REFRESH_WINDOW = 20


def _positions_refresh(*, queue_id: int | None) -> None:
    """Those waiting in the queue moved up one: their widgets show the new position."""
    estimates = queue_wait_estimates(queue_id=queue_id, limit=POSITION_REFRESH_WINDOW)
    conversations = Conversation.objects.in_bulk([conversation_id for conversation_id, _ in estimates])
    for conversation_id, estimate in estimates:
        if conversation_id in conversations:
            events.publish_status(conversations[conversation_id], wait=estimate)


def handoffs_assign_waiting() -> int:
    """Try every waiting handoff, oldest first (an agent came online or freed a slot)."""
    assigned = 0
    for handoff_id in (
        Handoff.objects.filter(status=Handoff.Status.QUEUED, routed_at__isnull=False)
        .order_by("created_at")
        .values_list("id", flat=True)[:WAITING_BATCH]
    ):
        if handoff_assign_step(handoff_id=handoff_id):
            assigned += 1
    return assigned


# -- notify ---------------------------------------------------------------------------------


def _conversation_link(public_id: object) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("inbox:conversation", args=[public_id])


def _emails(users: Any) -> list[str]:
    return sorted({u.email for u in users if u.email})


def handoff_notify_step(*, handoff_id: int) -> bool:
    with transaction.atomic():
        won = Handoff.objects.filter(pk=handoff_id, notified_at__isnull=True).update(notified_at=timezone.now())
        handoff = Handoff.objects.select_related("queue", "assignee", "conversation").filter(pk=handoff_id).first()
        if not won or handoff is None or not handoff.is_open:
            return False
        conversation = handoff.conversation
        reason = handoff.reason_label
        if handoff.assignee_id:
            events.publish_notification(
                user_ids=[handoff.assignee_id],
                public_id=conversation.public_id,
                title="New conversation for you",
                body=reason,
            )
            _event(handoff_id, "notified", to="assignee")
            return True
        queue = handoff.queue
        online = list(agents_online(queue_agents_q(queue)).values_list("id", flat=True))
        if online:
            events.publish_notification(
                user_ids=online,
                public_id=conversation.public_id,
                title=f"Waiting in {queue.name if queue else 'the queue'}",
                body=reason,
            )
        _customer_told_what_happens(handoff)
        _event(handoff_id, "notified", to="online" if online else "email")
        emails = [] if online else _emails(_queue_agents(queue))
    if emails:
        _mail_agents(handoff, emails, subject=f"[supportbot] A customer is waiting: {reason}")
    return True


def _queue_agents(queue: Queue | None) -> Any:
    users = support_agents()
    return users.filter(queue_agents_q(queue)) if queue else users


def _customer_told_what_happens(handoff: Handoff) -> None:
    queue = handoff.queue
    now = timezone.now()
    if queue and handoff.after_hours:
        opening = next_opening(queue.hours, queue.timezone, now)
        system_message_post(
            conversation_id=handoff.conversation_id,
            text=gettext_noop(
                "Our team is away right now and back %(when)s (%(timezone)s). "
                "Leave your email address here and we'll follow up by email, or keep this chat open."
            ),
            params={"when": opening_describe(opening, now), "timezone": queue.timezone},
        )
        return
    estimate = handoff_wait_estimate(conversation_id=handoff.conversation_id)
    if estimate is not None:
        system_message_post(
            conversation_id=handoff.conversation_id,
            text=ngettext_lazy(
                "You're number %(position)s in line. Expected wait: about %(minutes)s minute.",
                "You're number %(position)s in line. Expected wait: about %(minutes)s minutes.",
                "minutes",
            ),
            params={"position": estimate.position, "minutes": estimate.minutes},
        )


def _mail_agents(handoff: Handoff, emails: list[str], *, subject: str) -> None:
    body = (
        f"Reason: {handoff.reason}\nQueue: {handoff.queue.name if handoff.queue else '-'}\n\n"
        f"{handoff.summary or 'No summary yet.'}\n\nOpen it: {_conversation_link(handoff.conversation.public_id)}\n"
    )
    send_mail(subject, body, None, emails, fail_silently=False)


# -- SLA and the sweep ----------------------------------------------------------------------


def handoff_sla_step(*, handoff_id: int, now: Any = None) -> str | None:
    """Unclaimed past the SLA: re-notify the queue (stage 1); past the escalation time: tell
    the supervisors (stage 2). Each stage is claimed once."""
    now = now or timezone.now()
    handoff = Handoff.objects.select_related("queue", "conversation").filter(pk=handoff_id).first()
    if (
        handoff is None
        or handoff.status != Handoff.Status.QUEUED
        or handoff.sla_due_at is None
        or handoff.sla_due_at > now
    ):
        return None
    queue = handoff.queue
    stage = handoff.sla_stage + 1
    if stage > 2:
        return None
    next_due = handoff.sla_due_at + timedelta(
        minutes=max(1, (queue.escalate_minutes - queue.sla_minutes) if queue else 10)
    )
    with transaction.atomic():
        won = Handoff.objects.filter(pk=handoff_id, sla_stage=handoff.sla_stage, status=Handoff.Status.QUEUED).update(
            sla_stage=stage, sla_due_at=next_due if stage == 1 else None
        )
        if not won:
            return None
        kind = "sla_renotified" if stage == 1 else "sla_escalated"
        _event(handoff_id, kind)
        if stage == 1:
            recipients = list(_queue_agents(queue))
            title = "Still waiting: past the SLA"
        else:
            from django.contrib.auth import get_user_model

            recipients = list(
                get_user_model()
                .objects.filter(is_active=True)
                .filter(Q(is_superuser=True) | Q(groups__name=SUPERVISORS_GROUP))
                .distinct()
            )
            title = "Escalated: nobody has claimed this"
        events.publish_notification(
            user_ids=[u.pk for u in recipients],
            public_id=handoff.conversation.public_id,
            title=title,
            body=handoff.reason,
        )
        events.publish_inbox_changed(handoff.conversation.public_id)
    emails = _emails(recipients)
    if emails:
        _mail_agents(handoff, emails, subject=f"[supportbot] {title}")
    return kind


@dataclass
class SweepReport:
    pushed: list[tuple[str, int]]
    assigned: int
    sla: int


def handoffs_sweep() -> SweepReport:
    """Runs every few seconds from beat: pushes workflows that stalled (a lost message, a worker
    that died after a step), retries assignment, and fires SLA timers."""
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.HANDOFF_STUCK_SECONDS)
    pushed: list[tuple[str, int]] = []
    for handoff in Handoff.objects.filter(status__in=Handoff.OPEN_STATUSES, created_at__lt=stuck_before).filter(
        Q(summarized_at__isnull=True) | Q(routed_at__isnull=True) | Q(notified_at__isnull=True)
    )[:WAITING_BATCH]:
        step = (
            "handoff_summarize"
            if handoff.summarized_at is None
            else "handoff_route"
            if handoff.routed_at is None
            else "handoff_assign"
        )
        pushed.append((step, handoff.pk))
    assigned = handoffs_assign_waiting()
    sla = 0
    for handoff_id in Handoff.objects.filter(status=Handoff.Status.QUEUED, sla_due_at__lte=now).values_list(
        "id", flat=True
    )[:WAITING_BATCH]:
        if handoff_sla_step(handoff_id=handoff_id, now=now):
            sla += 1
    return SweepReport(pushed=pushed, assigned=assigned, sla=sla)
