"""Closing conversations nobody is waiting on, like Chatwoot's auto-resolve and Intercom's bot
inactivity close. Without it a conversation the customer simply walked away from stays open for
ever: it clutters the agents' open list and never counts as contained in the metrics.

Who waits decides, not the clock alone: a conversation whose customer spoke last is waiting for an
answer (from the bot or a person), and a queued one is waiting for an agent; neither is closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_noop

from conversations.handoff.resolution import resolve_if
from conversations.models import Conversation, Message

IDLE_TEXT = gettext_noop(
    "We closed this conversation as there was no reply for a while. Write again any time: we'll pick it up right here."
)


def idle_conversations(*, now: datetime | None = None) -> QuerySet[Conversation]:
    """Open conversations past their idle limit whose last word (system notes aside) was not the customer's."""
    now = now or timezone.now()
    limits = Q(pk__in=[])
    if settings.IDLE_RESOLVE_BOT_MINUTES:
        limits |= Q(
            status=Conversation.Status.BOT,
            last_message_at__lt=now - timedelta(minutes=settings.IDLE_RESOLVE_BOT_MINUTES),
        )
    if settings.IDLE_RESOLVE_HUMAN_MINUTES:
        limits |= Q(
            status=Conversation.Status.HUMAN,
            last_message_at__lt=now - timedelta(minutes=settings.IDLE_RESOLVE_HUMAN_MINUTES),
        )
    last_speaker = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-seq")
        .values("role")[:1]
    )
    return (
        Conversation.objects.filter(limits)
        .annotate(last_speaker=Subquery(last_speaker))
        .filter(last_speaker__in=[Message.Role.BOT, Message.Role.AGENT])
    )


def idle_conversations_resolve(*, limit: int = 200) -> int:
    """Close up to `limit` idle conversations (oldest first); returns how many were closed."""
    now = timezone.now()
    candidates = idle_conversations(now=now)
    closed = 0
    for conversation_id in candidates.order_by("last_message_at").values_list("pk", flat=True)[:limit]:
        closed += resolve_if(
            conversation_id=conversation_id,
            agent=None,
            text=IDLE_TEXT,
            reason=Conversation.ResolutionReason.NO_RESPONSE,
            still=idle_conversations(now=now),
        )
    return closed
