"""Reading ArchivedMetricsDay back for the metrics page (conversations/reports/metrics.py adds these
figures to its live queries; conversations/privacy/fold.py writes them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from conversations.models import ArchivedMetricsDay


@dataclass(frozen=True)
class ArchivedTotals:
    """The aggregate rows of a window of days, summed over every site."""

    conversations_per_day: dict[date, int]
    conversations: int
    contained: int
    ai_resolved: int
    handoffs_by_reason: dict[str, int]
    csat_by_score: dict[int, int]
    csat_by_agent: dict[int, tuple[int, int, int]]  # agent id -> (sum, n, low)
    thumbs_up: int
    thumbs_down: int
    answers_per_day: dict[date, tuple[int, int, int]]  # day -> (flagged, cited, abstained)


def archived_totals(*, first_day: date, last_day: date) -> ArchivedTotals:
    per_day: dict[date, int] = defaultdict(int)
    answers: dict[date, tuple[int, int, int]] = {}
    by_reason: dict[str, int] = defaultdict(int)
    by_score: dict[int, int] = defaultdict(int)
    by_agent: dict[int, tuple[int, int, int]] = {}
    totals: dict[str, int] = defaultdict(int)
    rows = ArchivedMetricsDay.objects.filter(day__gte=first_day, day__lte=last_day).defer(
        "first_response_seconds", "resolution_seconds"
    )
    for row in rows.iterator(chunk_size=2000):
        per_day[row.day] += row.conversations
        flagged, cited, abstained = answers.get(row.day, (0, 0, 0))
        answers[row.day] = (
            flagged + row.bot_replies_flagged,
            cited + row.bot_replies_cited,
            abstained + row.bot_replies_abstained,
        )
        for name in ("conversations", "contained", "ai_resolved", "thumbs_up", "thumbs_down"):
            totals[name] += getattr(row, name)
        for reason, n in row.handoffs_by_reason.items():
            by_reason[reason] += n
        for score, n in row.csat_by_score.items():
            by_score[int(score)] += n
        for agent_id, figures in row.csat_by_agent.items():
            total, n, low = by_agent.get(int(agent_id), (0, 0, 0))
            by_agent[int(agent_id)] = (total + figures["sum"], n + figures["n"], low + figures["low"])
    return ArchivedTotals(
        conversations_per_day=dict(per_day),
        conversations=totals["conversations"],
        contained=totals["contained"],
        ai_resolved=totals["ai_resolved"],
        handoffs_by_reason=dict(by_reason),
        csat_by_score=dict(by_score),
        csat_by_agent=by_agent,
        thumbs_up=totals["thumbs_up"],
        thumbs_down=totals["thumbs_down"],
        answers_per_day=answers,
    )


def archived_seconds_sql(*, column: str, first_day: date, last_day: date) -> tuple[str, list[Any]]:
    """SQL yielding one numeric per archived duration in the window, for the median's UNION ALL."""
    if column not in {"first_response_seconds", "resolution_seconds"}:
        raise ValueError(f"no archived durations in {column!r}")
    table = ArchivedMetricsDay._meta.db_table
    return (f'SELECT unnest("{column}") AS seconds FROM "{table}" WHERE "day" BETWEEN %s AND %s', [first_day, last_day])
