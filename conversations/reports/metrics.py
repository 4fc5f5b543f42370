"""Numbers for the supervisors' metrics page, computed in Postgres over a window of days.

The window is whole days in TIME_ZONE: today and the days-1 before it. Conversations that
retention deleted count through their daily aggregates (conversations/reports/aggregates.py),
filed under the same days, so a purge changes none of these numbers.

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
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversations.handoff.inactivity import IDLE_TEXT
from conversations.handoff.resolution import RESOLVED_TEXT
from conversations.models import Conversation, CsatRating, Handoff, Message, MessageFeedback
from conversations.reports.aggregates import ArchivedTotals, archived_seconds_sql, archived_totals

# A resolution "held" if the customer did not write again within this long.
REOPEN_WINDOW = timedelta(days=7)
# Every resolution (an agent's close, the idle close) posts one of these system messages, in the
# customer's language; they are the only record of a resolution that a later reopen has not
# overwritten.
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


def resolution_texts() -> list[str]:
    texts: set[str] = set()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            texts.update(gettext(text) for text in RESOLUTION_TEXTS)
    return sorted(texts)


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
        return AnswerDay(
            day=self.answers_per_day[0].day if self.answers_per_day else timezone.localdate(),
            replies=sum(d.replies for d in self.answers_per_day),
            cited=sum(d.cited for d in self.answers_per_day),
            abstained=sum(d.abstained for d in self.answers_per_day),
        )


def _median_seconds(queryset: Any, expression: Any, *, archived: tuple[str, list[Any]]) -> float | None:
    """Postgres' percentile_cont over an interval, in seconds, with the archived durations of the
    window (one query, no rows to Python)."""
    from django.db import connection

    sql, params = queryset.annotate(_d=expression).values("_d").query.sql_with_params()
    archived_sql, archived_params = archived
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY u.seconds) FROM ("
            f"SELECT EXTRACT(EPOCH FROM d._d) AS seconds FROM ({sql}) AS d UNION ALL {archived_sql}) AS u",
            [*params, *archived_params],
        )
        value = cursor.fetchone()[0]
    return float(value) if value is not None else None


def ai_resolved_conversations(conversations: Any) -> Any:
    """Those of `conversations` the bot resolved alone and for good (see the module docstring)."""
    first_resolution = (
        Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.SYSTEM, text__in=resolution_texts())
        .order_by("seq")
        .values("created_at")[:1]
    )
    came_back = Message.objects.filter(
        conversation=OuterRef("pk"),
        role=Message.Role.CUSTOMER,
        created_at__gt=OuterRef("first_resolved_at"),
        created_at__lte=OuterRef("first_resolved_at") + REOPEN_WINDOW,
    )
    person = Q(Exists(Handoff.objects.filter(conversation=OuterRef("pk")))) | Q(
        Exists(Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.AGENT))
    )
    return (
        conversations.annotate(first_resolved_at=Subquery(first_resolution))
        .filter(first_resolved_at__isnull=False)
        .exclude(person)
        .exclude(Exists(came_back))
    )


def ai_resolved_count(conversations: Any) -> int:
    return ai_resolved_conversations(conversations).count()


def answers_per_day(*, since: Any, days: int, archived: ArchivedTotals | None = None) -> list[AnswerDay]:
    replies = Message.objects.filter(role=Message.Role.BOT, created_at__gte=since, extras__has_key="answered")
    rows = {
        row["day"]: row
        for row in replies.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            n=Count("id"),
            cited=Count("id", filter=Q(extras__answered=True, extras__has_key="citations")),
            abstained=Count("id", filter=Q(extras__answered=False)),
        )
    }
    today = timezone.localdate()
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        row = rows.get(day, {"n": 0, "cited": 0, "abstained": 0})
        flagged, cited, abstained = archived.answers_per_day.get(day, (0, 0, 0)) if archived else (0, 0, 0)
        result.append(
            AnswerDay(
                day=day, replies=row["n"] + flagged, cited=row["cited"] + cited, abstained=row["abstained"] + abstained
            )
        )
    return result


def _merged(live: dict, archived: dict) -> dict:
    merged = dict(live)
    for key, n in archived.items():
        merged[key] = merged.get(key, 0) + n
    return merged


def metrics_compute(*, days: int = 14) -> Metrics:
    today = timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    archived = archived_totals(first_day=first_day, last_day=today)
    started = conversations_started(since=since)
    per_day_rows = _merged(
        dict(
            started.annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).values_list("day", "n")
        ),
        archived.conversations_per_day,
    )
    per_day = [
        (today - timedelta(days=offset), per_day_rows.get(today - timedelta(days=offset), 0))
        for offset in range(days - 1, -1, -1)
    ]
    totals = started.aggregate(n=Count("id"), contained=Count("id", filter=contained_q()))
    handoffs = Handoff.objects.filter(created_at__gte=since)
    reasons = _merged(
        dict(handoffs.values("reason").annotate(n=Count("id")).values_list("reason", "n")), archived.handoffs_by_reason
    )
    by_reason = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    window = {"first_day": first_day, "last_day": today}
    first_response = _median_seconds(
        handoffs.filter(first_response_at__isnull=False),
        FIRST_RESPONSE_WAIT,
        archived=archived_seconds_sql(column="first_response_seconds", **window),
    )
    resolved = Conversation.objects.filter(resolved_at__gte=since)
    resolution = _median_seconds(
        resolved,
        F("resolved_at") - F("created_at"),
        archived=archived_seconds_sql(column="resolution_seconds", **window),
    )
    # Every rating given in the period, one per resolution: a conversation resolved twice counts twice.
    # Sums, not averages, so the archived ratings average in exactly.
    rated = CsatRating.objects.filter(resolved_at__gte=since)
    by_score = _merged(
        dict(rated.values("score").annotate(n=Count("id")).values_list("score", "n")), archived.csat_by_score
    )
    csat_count = sum(by_score.values())
    csat_sum = sum(score * n for score, n in by_score.items())
    thumbs = dict(
        MessageFeedback.objects.filter(updated_at__gte=since)
        .values("rating")
        .annotate(n=Count("id"))
        .values_list("rating", "n")
    )
    return Metrics(
        ai_resolved=ai_resolved_count(started) + archived.ai_resolved,
        thumbs_up=thumbs.get(MessageFeedback.Rating.UP, 0) + archived.thumbs_up,
        thumbs_down=thumbs.get(MessageFeedback.Rating.DOWN, 0) + archived.thumbs_down,
        answers_per_day=answers_per_day(since=since, days=days, archived=archived),
        days=days,
        per_day=per_day,
        conversations=totals["n"] + archived.conversations,
        contained=totals["contained"] + archived.contained,
        handoffs_by_reason=by_reason,
        median_first_response_seconds=first_response,
        median_resolution_seconds=resolution,
        csat_average=csat_sum / csat_count if csat_count else None,
        csat_count=csat_count,
        csat_by_score=[(score, by_score.get(score, 0)) for score in range(1, 6)],
        csat_by_agent=_csat_by_agent(rated, archived),
    )


def _csat_by_agent(rated: Any, archived: ArchivedTotals) -> list[AgentCsat]:
    figures = dict(archived.csat_by_agent)
    for row in (
        rated.exclude(agent=None)
        .values("agent_id")
        .annotate(total=Sum("score"), n=Count("id"), low=Count("id", filter=Q(score__lte=2)))
    ):
        total, n, low = figures.get(row["agent_id"], (0, 0, 0))
        figures[row["agent_id"]] = (total + row["total"], n + row["n"], low + row["low"])
    # An agent deleted since (SET_NULL on live ratings) is left out on both sides.
    names = {
        user.pk: user.first_name or user.get_username() for user in get_user_model().objects.filter(pk__in=figures)
    }
    rows = [
        AgentCsat(name=names[agent_id], average=total / n, count=n, low=low)
        for agent_id, (total, n, low) in figures.items()
        if agent_id in names and n
    ]
    return sorted(rows, key=lambda row: (-row.count, row.name))
