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

from celery import shared_task

from conversations.core.events import published_together
from conversations.handoff import workflow
from supportbot.task_options import RETRY_ON_DATABASE_ERRORS

logger = logging.getLogger(__name__)


STEP = RETRY_ON_DATABASE_ERRORS


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
