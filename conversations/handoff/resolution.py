"""Resolving a conversation: it ends whatever handoff owns it, so it lives with the handoff."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from conversations.chat.conversations import ConversationStateError
from conversations.chat.messages import system_message_post
from conversations.core import events
from conversations.core.people import agent_check
from conversations.handoff.services import handoff_close_on_resolve
from conversations.models import Conversation
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue


def _reload(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("assignee").get(pk=conversation_id)


RESOLVED_TEXT = gettext_noop("This conversation has been resolved.")


def conversation_resolve(
    *, conversation_id: int, agent: Any, reason: str = Conversation.ResolutionReason.ANSWERED
) -> Conversation:
    agent_check(agent)
    if reason not in Conversation.ResolutionReason.values:
        raise ConversationStateError(
            "bad_reason", f"resolution reason must be one of {Conversation.ResolutionReason.values}"
        )
    resolve_if(conversation_id=conversation_id, agent=agent, reason=reason, text=RESOLVED_TEXT)
    return _reload(conversation_id)


def resolve_if(
    *, conversation_id: int, agent: Any, reason: str, text: str, still: QuerySet[Conversation] | None = None
) -> bool:
    """Resolve under the conversation's row lock, only if `still` (re-checked under the lock)
    holds: a customer message racing an automatic close either lands first and keeps the
    conversation open, or lands after and reopens it. True when this call resolved it."""
    with transaction.atomic():
        Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if still is not None and not still.filter(pk=conversation_id).exists():
            return False
        resolved = (
            Conversation.objects.filter(pk=conversation_id)
            .exclude(status=Conversation.Status.RESOLVED)
            .update(
                status=Conversation.Status.RESOLVED,
                resolved_at=timezone.now(),
                updated_at=timezone.now(),
                resolution_reason=reason,
                # A returning visitor verifies again: what a verification unlocked ends here.
                verified_customer_id="",
                verified_order_number="",
                verified_until=None,
            )
        )
        if resolved:
            handoff_close_on_resolve(conversation_id=conversation_id, agent=agent, reason=reason)
            system_message_post(conversation_id=conversation_id, text=text)
            events.publish_status(_reload(conversation_id))
            webhook_events_enqueue(
                conversation_id=conversation_id,
                event="conversation.resolved",
                payload=webhook_payloads.conversation_resolved(reason=reason, agent=agent),
            )
    return bool(resolved)
