"""Celery task options shared by the apps' tasks, typed so `shared_task`'s overloads check them."""

from __future__ import annotations

from typing import TypedDict

from django.db import DatabaseError


class TaskOptions(TypedDict):
    acks_late: bool
    reject_on_worker_lost: bool
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int | None


# acks_late + reject_on_worker_lost: a worker killed mid-task leaves the message unacknowledged and
# the broker hands it to another worker (after CELERY_VISIBILITY_TIMEOUT); the tasks' conditional
# claims make that redelivery safe. Database errors are retried with exponential backoff.
RETRY_ON_DATABASE_ERRORS: TaskOptions = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}
