"""Celery tasks of retention: the hourly purges of expired vault entries and expired conversations.

Names are pinned to where these tasks were first defined (conversations.tasks): beat entries and
messages already queued name tasks by these strings, and a moved module must not rename them."""

from __future__ import annotations

from celery import shared_task

from conversations.privacy.retention import conversations_purge_expired
from guardrails.pii.vault import vault_purge_expired


@shared_task(name="conversations.tasks.purge_expired_pii", acks_late=True)
def purge_expired_pii() -> int:
    return vault_purge_expired()


@shared_task(name="conversations.tasks.purge_expired_conversations", acks_late=True, reject_on_worker_lost=True)
def purge_expired_conversations() -> int:
    """Each site's retention period. Safe to run twice at once: batches claim with SKIP LOCKED."""
    return conversations_purge_expired().conversations
