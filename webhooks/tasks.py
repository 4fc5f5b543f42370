"""Celery beat tasks for webhooks: thin (docs/webhooks.md). The task that sends one delivery is in
webhooks/delivery_tasks.py, which the services enqueue and which never imports them.
Importing this module (Celery's autodiscovery does) registers that one too, through the services.
Names are pinned: the beat schedule names them by these strings."""

from __future__ import annotations

from celery import shared_task

from webhooks import services
from webhooks.delivery_tasks import TASK


@shared_task(name="webhooks.tasks.webhook_deliveries_sweep", **TASK)
def webhook_deliveries_sweep() -> int:
    return len(services.webhook_deliveries_sweep())


@shared_task(name="webhooks.tasks.webhook_deliveries_purge", **TASK)
def webhook_deliveries_purge() -> int:
    return services.webhook_deliveries_purge()
