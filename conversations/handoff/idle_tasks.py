"""The beat task that resolves idle conversations. Apart from conversations/handoff/tasks.py because
it runs resolution, which runs the handoff services, which enqueue those tasks: one direction.

Its name is pinned to where it was first defined (conversations.tasks): beat entries and messages
already queued name tasks by that string."""

from __future__ import annotations

from celery import shared_task

from conversations.handoff.inactivity import idle_conversations_resolve


@shared_task(name="conversations.tasks.resolve_idle_conversations", acks_late=True, reject_on_worker_lost=True)
def resolve_idle_conversations() -> int:
    """Safe to run twice at once: each close re-checks under the conversation's row lock."""
    return idle_conversations_resolve()
