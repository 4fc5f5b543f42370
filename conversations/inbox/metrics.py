"""Numbers for the supervisors' metrics page, computed in Postgres over a window of days.

Definitions (also on the page):
- conversations: started in the window with at least one message;
- containment: the share of those resolved without a person: closed (by an agent or, once the
  customer walked away after the bot's answer, automatically) and never handed off;
- handoff rate by reason: handoffs created in the window / conversations in the window;
- time to first human response: handoff created -> the first agent reply, median;
- time to resolution: conversation started -> resolved, median, for those resolved in the window;
- CSAT: the average of the ratings given to conversations resolved in the window;
- AI resolution rate: the share of the window's conversations that were resolved without a person
  (never handed off, no agent reply) and whose first resolution was not followed by a customer
  message within 7 days (the customer did not come back: the answer held);
- helpful rate: thumbs up / all thumbs given in the window on bot answers;
- answer rate and abstain rate per day: of the bot replies that day, the share that cited a
  help-center article, and the share that had no grounded answer ("I don't know"). The rest are
  actions, order look-ups, questions back and handoffs. Replies from before the bot recorded
  `answered` are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from conversations.handoff.models import Handoff
from conversations.models import Conversation, CsatRating, Message, MessageFeedback
from conversations.services.conversations import RESOLVED_TEXT
from conversations.services.inactivity import IDLE_TEXT

# A resolution "held" if the customer did not write again within this long.
REOPEN_WINDOW = timedelta(days=7)
# Every resolution (an agent's close, the idle close) posts one of these system messages; they are
# the only record of a resolution that a later reopen has not overwritten.
RESOLUTION_TEXTS = (RESOLVED_TEXT, IDLE_TEXT)
# On a Handoff: the wait from the handoff to the first agent reply ("time to first human response").
FIRST_RESPONSE_WAIT = F("first_response_at") - F("created_at")


def conversations_started(*, since: datetime, until: datetime | None = None) -> QuerySet[Conversation]:
    """The conversations a period counts: started in it, with at least one message."""
    started = Conversation.objects.filter(created_at__gte=since, last_seq__gt=0)
    return started if until is None else started.filter(created_at__lt=until)


def contained_q() -> Q:
    """A conversation resolved without a person: closed and never handed off (an agent who takes a
    conversation straight from the bot opens a handoff too)."""
    return Q(status=Conversation.Status.RESOLVED) & ~Q(Exists(Handoff.objects.filter(conversation=OuterRef("pk"))))


@dataclass(frozen=True)
class AgentCsat:
    name: str
    average: float
    count: int
    low: int  # ratings of 1 or 2: the conversations worth reading


@dataclass(frozen=True)
class AnswerDay:
    day: date
    replies: int  # bot replies that recorded whether they were a grounded answer
    cited: int
    abstained: int

    @property
    def answer_rate(self) -> float | None:
        return self.cited / self.replies if self.replies else None

    @property
    def abstain_rate(self) -> float | None:
        return self.abstained / self.replies if self.replies else None


@dataclass(frozen=True)
class Metrics:
    days: int
    per_day: list[tuple[date, int]]
    conversations: int
    contained: int
    handoffs_by_reason: list[tuple[str, int]]
    median_first_response_seconds: float | None
    median_resolution_seconds: float | None
    csat_average: float | None
    csat_count: int
    csat_by_score: list[tuple[int, int]]
    csat_by_agent: list[AgentCsat]
    ai_resolved: int
    thumbs_up: int
    thumbs_down: int
    answers_per_day: list[AnswerDay]

    @property
    def containment_rate(self) -> float | None:
        return self.contained / self.conversations if self.conversations else None

    @property
    def ai_resolution_rate(self) -> float | None:
        return self.ai_resolved / self.conversations if self.conversations else None

    @property
    def helpful_rate(self) -> float | None:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else None

    @property
    def answers(self) -> AnswerDay:
        """The whole window as one row."""
        return AnswerDay(day=self.answers_per_day[0].day if self.answers_per_day else timezone.localdate(),
                         replies=sum(d.replies for d in self.answers_per_day),
                         cited=sum(d.cited for d in self.answers_per_day),
                         abstained=sum(d.abstained for d in self.answers_per_day))


def _median_seconds(queryset: Any, expression: Any) -> float | None:
    """Postgres' percentile_cont over an interval, in seconds (one query, no rows to Python)."""
    from django.db import connection

    sql, params = queryset.annotate(_d=expression).values("_d").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM d._d)) FROM ({sql}) AS d",
            params,
        )
        value = cursor.fetchone()[0]
    return float(value) if value is not None else None


def ai_resolved_count(conversations: Any) -> int:
    """How many of `conversations` the bot resolved alone and for good (see the module docstring)."""
    first_resolution = (Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.SYSTEM,
                                               text__in=RESOLUTION_TEXTS).order_by("seq").values("created_at")[:1])
    came_back = Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.CUSTOMER,
                                       created_at__gt=OuterRef("first_resolved_at"),
                                       created_at__lte=OuterRef("first_resolved_at") + REOPEN_WINDOW)
    person = Q(Exists(Handoff.objects.filter(conversation=OuterRef("pk")))) | Q(
        Exists(Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.AGENT)))
    return (conversations.annotate(first_resolved_at=Subquery(first_resolution))
            .filter(first_resolved_at__isnull=False).exclude(person).exclude(Exists(came_back)).count())


def answers_per_day(*, since: Any, days: int) -> list[AnswerDay]:
    replies = Message.objects.filter(role=Message.Role.BOT, created_at__gte=since, extras__has_key="answered")
    rows = {row["day"]: row for row in replies.annotate(day=TruncDate("created_at")).values("day").annotate(
        n=Count("id"), cited=Count("id", filter=Q(extras__answered=True, extras__has_key="citations")),
        abstained=Count("id", filter=Q(extras__answered=False)))}
    today = timezone.localdate()
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        row = rows.get(day, {"n": 0, "cited": 0, "abstained": 0})
        result.append(AnswerDay(day=day, replies=row["n"], cited=row["cited"], abstained=row["abstained"]))
    return result


def metrics_compute(*, days: int = 14) -> Metrics:
    since = timezone.now() - timedelta(days=days)
    started = conversations_started(since=since)
    per_day_rows = dict(started.annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id"))
                        .values_list("day", "n"))
    today = timezone.localdate()
    per_day = [(today - timedelta(days=offset), per_day_rows.get(today - timedelta(days=offset), 0))
               for offset in range(days - 1, -1, -1)]
    totals = started.aggregate(n=Count("id"), contained=Count("id", filter=contained_q()))
    handoffs = Handoff.objects.filter(created_at__gte=since)
    by_reason = list(handoffs.values("reason").annotate(n=Count("id")).order_by("-n").values_list("reason", "n"))
    first_response = _median_seconds(handoffs.filter(first_response_at__isnull=False), FIRST_RESPONSE_WAIT)
    resolved = Conversation.objects.filter(resolved_at__gte=since)
    resolution = _median_seconds(resolved, F("resolved_at") - F("created_at"))
    # Every rating given in the period, one per resolution: a conversation resolved twice counts twice.
    rated = CsatRating.objects.filter(resolved_at__gte=since)
    csat = rated.aggregate(avg=Avg("score"), n=Count("id"))
    by_score = dict(rated.values("score").annotate(n=Count("id")).values_list("score", "n"))
    by_agent = (rated.exclude(agent=None).values("agent__first_name", "agent__username")
                .annotate(avg=Avg("score"), n=Count("id"), low=Count("id", filter=Q(score__lte=2)))
                .order_by("-n", "agent__first_name"))
    thumbs = dict(MessageFeedback.objects.filter(updated_at__gte=since).values("rating").annotate(n=Count("id"))
                  .values_list("rating", "n"))
    return Metrics(
        ai_resolved=ai_resolved_count(started), thumbs_up=thumbs.get(MessageFeedback.Rating.UP, 0),
        thumbs_down=thumbs.get(MessageFeedback.Rating.DOWN, 0), answers_per_day=answers_per_day(since=since, days=days),
        days=days, per_day=per_day, conversations=totals["n"], contained=totals["contained"],
        handoffs_by_reason=by_reason, median_first_response_seconds=first_response,
        median_resolution_seconds=resolution, csat_average=csat["avg"], csat_count=csat["n"],
        csat_by_score=[(score, by_score.get(score, 0)) for score in range(1, 6)],
        csat_by_agent=[AgentCsat(name=row["agent__first_name"] or row["agent__username"], average=row["avg"],
                                 count=row["n"], low=row["low"]) for row in by_agent],
    )
