"""Supervisors' pages: the team (queues, agents' loads, reassigning) and the metrics."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations.handoff.selectors import agent_loads, queue_loads
from conversations.inbox.charts import bar_chart
from conversations.inbox.exports import ExportForm
from conversations.inbox.views import HtmxHttpRequest, supervisor_required
from conversations.models import Handoff, handoff_reason_label
from conversations.reports.metrics import metrics_compute

METRIC_WINDOWS = (7, 14, 30, 90)


@require_GET
@supervisor_required
def team_view(request: HtmxHttpRequest) -> HttpResponse:
    assigned = (
        Handoff.objects.filter(status=Handoff.Status.ASSIGNED)
        .select_related("conversation__customer", "assignee", "queue")
        .order_by("assigned_at")
    )
    waiting = (
        Handoff.objects.filter(status=Handoff.Status.QUEUED)
        .select_related("conversation__customer", "queue")
        .order_by("created_at")
    )
    context = {"queues": queue_loads(), "agents": agent_loads(), "assigned": assigned, "waiting": waiting}
    template = "inbox/_team_body.html" if request.htmx else "inbox/team.html"
    return render(request, template, context)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@require_GET
@supervisor_required
def metrics_view(request: HttpRequest) -> HttpResponse:
    try:
        days = int(request.GET.get("days", 14))
    except ValueError:
        days = 14
    days = days if days in METRIC_WINDOWS else 14
    metrics = metrics_compute(days=days)
    per_reason = [
        (handoff_reason_label(reason), 100 * n / metrics.conversations if metrics.conversations else 0)
        for reason, n in metrics.handoffs_by_reason
    ]
    context = {
        "m": metrics,
        "windows": METRIC_WINDOWS,
        "first_response": _duration(metrics.median_first_response_seconds),
        "resolution": _duration(metrics.median_resolution_seconds),
        "per_day_chart": bar_chart(
            [(d.strftime("%b %-d"), n) for d, n in metrics.per_day], title="Conversations per day"
        ),
        "reason_chart": bar_chart(
            per_reason, title="Handoff rate by reason (% of conversations)", value_format="{:.0f}%"
        ),
        "csat_chart": bar_chart([(f"{s}★", n) for s, n in metrics.csat_by_score], title="CSAT ratings"),
        "reasons_raw": metrics.handoffs_by_reason,
        "export_form": ExportForm(
            initial={"from": timezone.localdate() - timedelta(days=days - 1), "to": timezone.localdate()}
        ),
    }
    return render(request, "inbox/metrics.html", context)
