"""The Celery task that sends one webhook delivery. The services enqueue it by direct reference;
it runs webhooks/delivery.py and never imports the services (one direction).

acks_late + reject_on_worker_lost, as the handoff tasks: a worker killed in the middle of a
request leaves the message unacknowledged and the broker hands it to another worker after
CELERY_VISIBILITY_TIMEOUT; the delivery's lease and conditional claims make that safe. The name
is pinned to where the task was first defined: queued messages name it by that string.
"""

from __future__ import annotations

from celery import shared_task

from supportbot.task_options import RETRY_ON_DATABASE_ERRORS, TaskOptions
from webhooks.delivery import webhook_delivery_attempt

TASK = RETRY_ON_DATABASE_ERRORS
# No retry limit here: the delivery's own attempt count (WEBHOOK_MAX_ATTEMPTS) decides when to
# give up, and a database outage should delay deliveries, not drop them.
DELIVER_TASK: TaskOptions = {**TASK, "max_retries": None}


@shared_task(name="webhooks.tasks.webhook_deliver", bind=True, **DELIVER_TASK)
def webhook_deliver(self, delivery_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    attempted = webhook_delivery_attempt(delivery_id=delivery_id)
    if attempted.retry_in is not None:
        raise self.retry(countdown=attempted.retry_in)
    return attempted.outcome
