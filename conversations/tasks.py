"""Celery tasks of the conversations app: thin wrappers that take IDs."""

from __future__ import annotations

import asyncio
import logging

from celery import shared_task

from conversations.bot.actions import action_execute, action_recovery_claim, stalled_actions
from conversations.bot.runner import stalled_conversations, turn_drive
from conversations.privacy.retention import conversations_purge_expired
from conversations.services.inactivity import idle_conversations_resolve
from conversations.services.transcripts import transcript_email_send
from guardrails.pii.vault import vault_purge_expired

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def recover_stalled_turns() -> int:
    """Re-run turns whose process died (or that nobody scheduled): the lease makes this safe to run
    while a live process also works on them."""
    conversation_ids = stalled_conversations()
    for conversation_id in conversation_ids:
        logger.warning("re-running the stalled bot turn of conversation %s", conversation_id)
        asyncio.run(turn_drive(conversation_id, owner=f"recovery:{conversation_id}"))
    return len(conversation_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def recover_stalled_actions() -> int:
    """Finish confirmed changes whose process died mid-call, so the customer hears the outcome."""
    recovered = 0
    for action_id in stalled_actions():
        action = action_recovery_claim(action_id=action_id)
        if action is None:
            continue  # another worker took it
        logger.warning("finishing action %s (%s) left executing by a dead process", action.public_id, action.tool)
        asyncio.run(action_execute(action=action, public_id=action.conversation.public_id))
        recovered += 1
    return recovered


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OSError,), retry_backoff=5,
             retry_backoff_max=300, max_retries=6)
def send_transcript_email(conversation_id: int, email_placeholder: str) -> bool:
    """Mail servers fail transiently (OSError covers SMTP and socket errors): retried with backoff."""
    return transcript_email_send(conversation_id=conversation_id, email_placeholder=email_placeholder)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def resolve_idle_conversations() -> int:
    """Safe to run twice at once: each close re-checks under the conversation's row lock."""
    return idle_conversations_resolve()


@shared_task(acks_late=True)
def purge_expired_pii() -> int:
    return vault_purge_expired()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_expired_conversations() -> int:
    """Each site's retention period. Safe to run twice at once: batches claim with SKIP LOCKED."""
    return conversations_purge_expired().conversations


# The handoff workflow's tasks live with the handoff package; importing them registers them
# with the worker (autodiscovery looks at this module only).
from conversations.handoff import tasks as handoff_tasks  # noqa: E402,F401
