"""The Celery task that sends one webhook delivery. The services enqueue it by direct reference;
it runs webhooks/delivery.py and never imports the services (one direction).

acks_late + reject_on_worker_lost, as the handoff tasks: a worker killed in the middle of a
request leaves the message unacknowledged and the broker hands it to another worker after
CELERY_VISIBILITY_TIMEOUT; the delivery's lease and conditional claims make that safe. The name
is pinned to where the task was first defined: queued messages name it by that string.
"""

from __future__ import annotations

from typing import TypedDict

from celery import shared_task
from django.db import DatabaseError

from webhooks.delivery import webhook_delivery_attempt


class _TaskOptions(TypedDict):
    """The shared_task options spelled out, so the decorator's typed overloads check them."""

    acks_late: bool
    reject_on_worker_lost: bool
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int | None


TASK: _TaskOptions = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}
# No retry limit here: the delivery's own attempt count (WEBHOOK_MAX_ATTEMPTS) decides when to
# give up, and a database outage should delay deliveries, not drop them.
DELIVER_TASK: _TaskOptions = {**TASK, "max_retries": None}


@shared_task(name="webhooks.tasks.webhook_deliver", bind=True, **DELIVER_TASK)
def webhook_deliver(self, delivery_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    attempted = webhook_delivery_attempt(delivery_id=delivery_id)
    if attempted.retry_in is not None:
        raise self.retry(countdown=attempted.retry_in)
    return attempted.outcome
