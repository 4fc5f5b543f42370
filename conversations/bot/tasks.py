"""Celery tasks that finish the bot's work a dead process left behind: thin, they call the runner
and the actions.

Names are pinned to where these tasks were first defined (conversations.tasks): beat entries and
messages already queued name tasks by these strings, and a moved module must not rename them."""

from __future__ import annotations

import asyncio
import logging

from celery import shared_task

from conversations.bot.actions import action_execute, action_recovery_claim, stalled_actions
from conversations.bot.runner import stalled_conversations, turn_drive

logger = logging.getLogger(__name__)


@shared_task(name="conversations.tasks.recover_stalled_turns", acks_late=True, reject_on_worker_lost=True)
def recover_stalled_turns() -> int:
    """Re-run turns whose process died (or that nobody scheduled): the lease makes this safe to run
    while a live process also works on them."""
    conversation_ids = stalled_conversations()
    for conversation_id in conversation_ids:
        logger.warning("re-running the stalled bot turn of conversation %s", conversation_id)
        asyncio.run(turn_drive(conversation_id, owner=f"recovery:{conversation_id}"))
    return len(conversation_ids)


@shared_task(name="conversations.tasks.recover_stalled_actions", acks_late=True, reject_on_worker_lost=True)
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
