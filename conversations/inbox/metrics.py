"""Numbers for the supervisors' metrics page, computed in Postgres over a window of days.

Definitions (also on the page):
- conversations: started in the window with at least one message;
- containment: the share of those resolved without a person: closed (by an agent or, once the
  customer walked away after the bot's answer, automatically) and never handed off;
- handoff rate by reason: handoffs created in the window / conversations in the window;
- time to first human response: handoff created -> the first agent reply, median;
- time to resolution: conversation started -> resolved, median, for those resolved in the window;
- CSAT: the average of the ratings given to conversations resolved in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from conversations.handoff.models import Handoff
from conversations.models import Conversation, CsatRating


@dataclass(frozen=True)
class AgentCsat:
    name: str
    average: float
    count: int
    low: int  # ratings of 1 or 2: the conversations worth reading


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

    @property
    def containment_rate(self) -> float | None:
        return self.contained / self.conversations if self.conversations else None


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


def metrics_compute(*, days: int = 14) -> Metrics:
    since = timezone.now() - timedelta(days=days)
    started = Conversation.objects.filter(created_at__gte=since, last_seq__gt=0)
    per_day_rows = dict(started.annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id"))
                        .values_list("day", "n"))
    today = timezone.localdate()
    per_day = [(today - timedelta(days=offset), per_day_rows.get(today - timedelta(days=offset), 0))
               for offset in range(days - 1, -1, -1)]
    # distinct: the join with handoffs repeats a conversation once per handoff it had
    totals = started.aggregate(n=Count("id", distinct=True),
                               contained=Count("id", filter=Q(handoffs__isnull=True, status=Conversation.Status.RESOLVED),
                                                distinct=True))
    handoffs = Handoff.objects.filter(created_at__gte=since)
    by_reason = list(handoffs.values("reason").annotate(n=Count("id")).order_by("-n").values_list("reason", "n"))
    first_response = _median_seconds(handoffs.filter(first_response_at__isnull=False),
                                     F("first_response_at") - F("created_at"))
    resolved = Conversation.objects.filter(resolved_at__gte=since)
    resolution = _median_seconds(resolved, F("resolved_at") - F("created_at"))
    # Every rating given in the period, one per resolution: a conversation resolved twice counts twice.
    rated = CsatRating.objects.filter(resolved_at__gte=since)
    csat = rated.aggregate(avg=Avg("score"), n=Count("id"))
    by_score = dict(rated.values("score").annotate(n=Count("id")).values_list("score", "n"))
    by_agent = (rated.exclude(agent=None).values("agent__first_name", "agent__username")
                .annotate(avg=Avg("score"), n=Count("id"), low=Count("id", filter=Q(score__lte=2)))
                .order_by("-n", "agent__first_name"))
    return Metrics(
        days=days, per_day=per_day, conversations=totals["n"], contained=totals["contained"],
        handoffs_by_reason=by_reason, median_first_response_seconds=first_response,
        median_resolution_seconds=resolution, csat_average=csat["avg"], csat_count=csat["n"],
        csat_by_score=[(score, by_score.get(score, 0)) for score in range(1, 6)],
        csat_by_agent=[AgentCsat(name=row["agent__first_name"] or row["agent__username"], average=row["avg"],
                                 count=row["n"], low=row["low"]) for row in by_agent],
    )
