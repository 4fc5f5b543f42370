"""Folding conversations about to be deleted into ArchivedMetricsDay. The fold asks the same
questions the live metrics ask (conversations/reports/metrics.py; ai_resolved_conversations is
shared), grouped by site and day instead of over a window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from conversations.models import (
    ArchivedMetricsDay,
    Conversation,
    CsatRating,
    Handoff,
    Message,
    MessageFeedback,
    ModelCall,
)
from conversations.reports.metrics import ai_resolved_conversations, contained_q

_COUNTERS = (
    "conversations",
    "contained",
    "ai_resolved",
    "thumbs_up",
    "thumbs_down",
    "bot_replies_flagged",
    "bot_replies_cited",
    "bot_replies_abstained",
    "bot_turns",
    "model_calls",
    "purged_conversations",
)


@dataclass
class _DayFold:
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    handoffs_by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_response_seconds: list[Decimal] = field(default_factory=list)
    resolution_seconds: list[Decimal] = field(default_factory=list)
    csat_by_score: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    csat_by_agent: dict[str, dict[str, int]] = field(default_factory=dict)
    model_cost_usd: Decimal = Decimal(0)


def _seconds(duration: timedelta) -> Decimal:
    """Exactly what EXTRACT(EPOCH FROM interval) gives for the live rows (microsecond precision)."""
    return Decimal(duration.days * 86400 + duration.seconds) + Decimal(duration.microseconds) / Decimal(1_000_000)


def metrics_fold(*, conversation_ids: list[int]) -> int:
    """Add these conversations' share of every metrics-page figure to the aggregate rows. Call it
    in the transaction that deletes them, with the conversations locked, so a figure is never
    counted twice or lost. Returns how many site/day rows changed."""
    if not conversation_ids:
        return 0
    folds: dict[tuple[int, date], _DayFold] = defaultdict(_DayFold)
    conversations = Conversation.objects.filter(pk__in=conversation_ids)

    for row in conversations.annotate(day=TruncDate("created_at")).values("site_id", "day").annotate(n=Count("id")):
        folds[row["site_id"], row["day"]].counters["purged_conversations"] += row["n"]
    started = conversations.filter(last_seq__gt=0)
    for row in (
        started.annotate(day=TruncDate("created_at"))
        .values("site_id", "day")
        .annotate(n=Count("id"), contained=Count("id", filter=contained_q()))
    ):
        fold = folds[row["site_id"], row["day"]]
        fold.counters["conversations"] += row["n"]
        fold.counters["contained"] += row["contained"]
    for row in (
        ai_resolved_conversations(started)
        .annotate(day=TruncDate("created_at"))
        .values("site_id", "day")
        .annotate(n=Count("id"))
    ):
        folds[row["site_id"], row["day"]].counters["ai_resolved"] += row["n"]

    handoffs = Handoff.objects.filter(conversation_id__in=conversation_ids).annotate(day=TruncDate("created_at"))
    for by_reason in handoffs.values("conversation__site_id", "day", "reason").annotate(n=Count("id")):
        fold = folds[by_reason["conversation__site_id"], by_reason["day"]]
        fold.handoffs_by_reason[by_reason["reason"]] += by_reason["n"]
    for site_id, day, waited in (
        handoffs.filter(first_response_at__isnull=False)
        .annotate(waited=F("first_response_at") - F("created_at"))
        .values_list("conversation__site_id", "day", "waited")
    ):
        folds[site_id, day].first_response_seconds.append(_seconds(waited))
    for site_id, day, took in (
        conversations.filter(resolved_at__isnull=False)
        .annotate(day=TruncDate("resolved_at"), took=F("resolved_at") - F("created_at"))
        .values_list("site_id", "day", "took")
    ):
        folds[site_id, day].resolution_seconds.append(_seconds(took))

    for rating in (
        CsatRating.objects.filter(conversation_id__in=conversation_ids)
        .annotate(day=TruncDate("resolved_at"))
        .values("conversation__site_id", "day", "score", "agent_id")
        .annotate(n=Count("id"))
    ):
        fold = folds[rating["conversation__site_id"], rating["day"]]
        fold.csat_by_score[str(rating["score"])] += rating["n"]
        if rating["agent_id"] is not None:
            agent = fold.csat_by_agent.setdefault(str(rating["agent_id"]), {"sum": 0, "n": 0, "low": 0})
            agent["sum"] += rating["score"] * rating["n"]
            agent["n"] += rating["n"]
            agent["low"] += rating["n"] if rating["score"] <= 2 else 0

    for feedback in (
        MessageFeedback.objects.filter(conversation_id__in=conversation_ids)
        .annotate(day=TruncDate("updated_at"))
        .values("conversation__site_id", "day", "rating")
        .annotate(n=Count("id"))
    ):
        key = "thumbs_up" if feedback["rating"] == MessageFeedback.Rating.UP else "thumbs_down"
        folds[feedback["conversation__site_id"], feedback["day"]].counters[key] += feedback["n"]

    for replies in (
        Message.objects.filter(conversation_id__in=conversation_ids, role=Message.Role.BOT)
        .annotate(day=TruncDate("created_at"))
        .values("conversation__site_id", "day")
        .annotate(
            turns=Count("id"),
            flagged=Count("id", filter=Q(extras__has_key="answered")),
            cited=Count("id", filter=Q(extras__answered=True, extras__has_key="citations")),
            abstained=Count("id", filter=Q(extras__answered=False)),
        )
    ):
        counters = folds[replies["conversation__site_id"], replies["day"]].counters
        counters["bot_turns"] += replies["turns"]
        counters["bot_replies_flagged"] += replies["flagged"]
        counters["bot_replies_cited"] += replies["cited"]
        counters["bot_replies_abstained"] += replies["abstained"]

    for calls in (
        ModelCall.objects.filter(conversation_id__in=conversation_ids)
        .annotate(day=TruncDate("created_at"))
        .values("conversation__site_id", "day")
        .annotate(n=Count("id"), cost=Sum("cost_usd"))
    ):
        fold = folds[calls["conversation__site_id"], calls["day"]]
        fold.counters["model_calls"] += calls["n"]
        fold.model_cost_usd += calls["cost"] or Decimal(0)

    return _folds_save(folds)


def _folds_save(folds: dict[tuple[int, date], _DayFold]) -> int:
    keys = sorted(folds)
    ArchivedMetricsDay.objects.bulk_create(
        [ArchivedMetricsDay(site_id=site_id, day=day) for site_id, day in keys], ignore_conflicts=True
    )
    by_site: dict[int, list[date]] = defaultdict(list)
    for site_id, day in keys:
        by_site[site_id].append(day)
    query = Q()
    for site_id, days in by_site.items():
        query |= Q(site_id=site_id, day__in=days)
    # Locked in one order: two purges folding into the same days wait for each other, never deadlock.
    rows = ArchivedMetricsDay.objects.select_for_update().filter(query).order_by("site_id", "day")
    for row in rows:
        fold = folds[row.site_id, row.day]
        for name in _COUNTERS:
            setattr(row, name, getattr(row, name) + fold.counters.get(name, 0))
        row.handoffs_by_reason = _added(row.handoffs_by_reason, fold.handoffs_by_reason)
        row.csat_by_score = _added(row.csat_by_score, fold.csat_by_score)
        for agent_id, figures in fold.csat_by_agent.items():
            current = row.csat_by_agent.setdefault(agent_id, {"sum": 0, "n": 0, "low": 0})
            for name in ("sum", "n", "low"):
                current[name] += figures[name]
        row.first_response_seconds = [*row.first_response_seconds, *fold.first_response_seconds]
        row.resolution_seconds = [*row.resolution_seconds, *fold.resolution_seconds]
        row.model_cost_usd += fold.model_cost_usd
        row.save()
    return len(keys)


def _added(current: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    merged = dict(current)
    for key, n in more.items():
        merged[key] = merged.get(key, 0) + n
    return merged
