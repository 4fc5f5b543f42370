"""Celery tasks of the handoff workflow: thin, take IDs, each enqueues the next step.

Names are pinned: beat entries and messages already queued name tasks by these strings, so a
moved module must not rename them. Services enqueue these tasks by direct reference; the tasks
call conversations.handoff.workflow, which never imports the services or this module.

acks_late + reject_on_worker_lost: a worker killed mid-step leaves the message unacknowledged and
the broker hands it to another worker (after CELERY_VISIBILITY_TIMEOUT); the steps' conditional
UPDATE claims make that redelivery safe. Database errors are retried with exponential backoff.
"""

from __future__ import annotations

import logging
from typing import TypedDict

from celery import shared_task
from django.db import DatabaseError

from conversations.core.events import published_together
from conversations.handoff import workflow

logger = logging.getLogger(__name__)


class _StepOptions(TypedDict):
    """The shared_task options spelled out, so the decorator's typed overloads check them."""

    acks_late: bool
    reject_on_worker_lost: bool
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


STEP: _StepOptions = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="conversations.handoff.tasks.handoff_summarize", **STEP)
def handoff_summarize(handoff_id: int) -> None:
    with published_together():
        done = workflow.handoff_summarize_step(handoff_id=handoff_id)
    if done:
        handoff_route.delay(handoff_id)


@shared_task(name="conversations.handoff.tasks.handoff_route", **STEP)
def handoff_route(handoff_id: int) -> None:
    with published_together():
        done = workflow.handoff_route_step(handoff_id=handoff_id)
    if done:
        handoff_assign.delay(handoff_id)


@shared_task(name="conversations.handoff.tasks.handoff_assign", **STEP)
def handoff_assign(handoff_id: int) -> None:
    with published_together():
        workflow.handoff_assign_step(handoff_id=handoff_id)
    handoff_notify.delay(handoff_id)


@shared_task(name="conversations.handoff.tasks.handoff_notify", **STEP)
def handoff_notify(handoff_id: int) -> None:
    with published_together():
        workflow.handoff_notify_step(handoff_id=handoff_id)


@shared_task(name="conversations.handoff.tasks.handoff_assign_waiting", **STEP)
def handoff_assign_waiting() -> int:
    with published_together():
        return workflow.handoffs_assign_waiting()


@shared_task(name="conversations.handoff.tasks.handoff_sweep", **STEP)
def handoff_sweep() -> dict:
    with published_together():
        report = workflow.handoffs_sweep()
    for step, handoff_id in report.pushed:
        logger.warning("pushing the stalled handoff %s again (%s)", handoff_id, step)
        STEPS[step].delay(handoff_id)
    return {"pushed": len(report.pushed), "assigned": report.assigned, "sla": report.sla}


# The sweep's report names the step a stalled handoff is stuck before.
STEPS = {
    "handoff_summarize": handoff_summarize,
    "handoff_route": handoff_route,
    "handoff_assign": handoff_assign,
    "handoff_notify": handoff_notify,
}
