"""What the metrics page needs from conversations that retention deleted, one row per site and day.

Each figure is filed under the day the live metrics would count it on (a conversation under the
day it started, a rating under the day of the resolution it rates, a thumb under the day it was
given...), so `conversations/reports/metrics.py` adds these rows to its live queries and shows the
same numbers before and after a purge. Durations are kept as lists of seconds, not averages: the
page shows medians, which no sum or count can give back.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


def _seconds_field() -> ArrayField:
    # numeric, like EXTRACT(EPOCH FROM interval) on the live rows: both sides of the median's
    # UNION ALL then carry the same exact values.
    return ArrayField(models.DecimalField(max_digits=16, decimal_places=6), default=list, blank=True)


class ArchivedMetricsDay(models.Model):
    site = models.ForeignKey("conversations.WidgetSite", on_delete=models.CASCADE, related_name="archived_metrics")
    day = models.DateField()
    conversations = models.PositiveIntegerField(default=0)  # started that day with at least one message
    contained = models.PositiveIntegerField(default=0)
    ai_resolved = models.PositiveIntegerField(default=0)
    handoffs_by_reason = models.JSONField(default=dict, blank=True)  # reason -> handoffs created that day
    first_response_seconds = _seconds_field()  # of handoffs created that day
    resolution_seconds = _seconds_field()  # of conversations resolved that day
    csat_by_score = models.JSONField(default=dict, blank=True)  # "1".."5" -> ratings of resolutions that day
    # agent user id -> {"sum", "n", "low"}: the agent's name is looked up when the page is shown.
    csat_by_agent = models.JSONField(default=dict, blank=True)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    bot_replies_flagged = models.PositiveIntegerField(default=0)  # bot replies that recorded `answered`
    bot_replies_cited = models.PositiveIntegerField(default=0)
    bot_replies_abstained = models.PositiveIntegerField(default=0)
    bot_turns = models.PositiveIntegerField(default=0)  # every bot message that day
    model_calls = models.PositiveIntegerField(default=0)
    model_cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    purged_conversations = models.PositiveIntegerField(default=0)  # deleted rows folded in here, by start day

    class Meta:
        app_label = "conversations"
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="archived_metrics_one_row_per_site_day")]
        indexes = [models.Index(fields=["day"], name="archived_metrics_day_idx")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day}"
