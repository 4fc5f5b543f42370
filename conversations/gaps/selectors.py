"""Reads for the content-gap report: the customer questions behind bot replies that were not a
grounded answer or that the customer rated down. Only stored (redacted) text is read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from conversations.models import Message, MessageFeedback

# The report's periods in days (the admin's choice; "handled" marks over the longest).
REPORT_WINDOWS = (7, 30, 90)
# The newest gaps first; bounded so that embedding them keeps the page under a few seconds.
GAP_QUESTIONS_LIMIT = 500


@dataclass(frozen=True)
class GapQuestion:
    text: str  # the customer's message the bot replied to, redacted
    reply_id: int  # the bot's reply (what "handled" marks)
    conversation_id: int
    conversation_public_id: UUID
    at: datetime
    unanswered: bool  # the bot had no grounded answer
    thumbs_down: bool
    comment: str  # the customer's redacted comment on a thumbs-down


def gap_questions(*, days: int = 30, limit: int = GAP_QUESTIONS_LIMIT) -> list[GapQuestion]:
    since = timezone.now() - timedelta(days=days)
    question = (
        Message.objects.filter(
            conversation=OuterRef("conversation"), role=Message.Role.CUSTOMER, seq__lt=OuterRef("seq")
        )
        .order_by("-seq")
        .values("text")[:1]
    )
    rated_down = MessageFeedback.objects.filter(message=OuterRef("pk"), rating=MessageFeedback.Rating.DOWN)
    replies = (
        Message.objects.filter(role=Message.Role.BOT, created_at__gte=since)
        .filter(Q(extras__answered=False) | Q(feedback__rating=MessageFeedback.Rating.DOWN))
        .annotate(
            question=Subquery(question),
            comment=Subquery(rated_down.values("comment")[:1]),
            down=Subquery(rated_down.values("rating")[:1]),
        )
        .filter(question__isnull=False)
        .exclude(conversation__customer__erased_at__isnull=False)  # their questions are erased markers
        .exclude(gap_handled__isnull=False)  # dealt with by staff
        .order_by("-created_at")
        .values(
            "pk",
            "question",
            "conversation_id",
            "conversation__public_id",
            "created_at",
            "extras__answered",
            "down",
            "comment",
        )[:limit]
    )
    return [
        GapQuestion(
            text=row["question"],
            reply_id=row["pk"],
            conversation_id=row["conversation_id"],
            conversation_public_id=row["conversation__public_id"],
            at=row["created_at"],
            unanswered=row["extras__answered"] is False,
            thumbs_down=row["down"] is not None,
            comment=row["comment"] or "",
        )
        for row in replies
    ]
