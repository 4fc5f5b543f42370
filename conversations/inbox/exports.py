"""Conversation exports: one row per conversation started in a date range, as CSV or JSON Lines.

Rows come from one annotated query read through a server-side cursor (`.iterator(chunk_size)`),
so an export of a million conversations holds one chunk in memory, never the whole result. Every
per-conversation figure is a correlated subquery on an indexed foreign key, not a query per row.

Columns (the definitions are the metrics page's, from metrics.py, applied to one conversation):
- conversation: the conversation's public id; site: the site key; channel: how the customer
  wrote ("web": the widget is the only channel so far);
- customer: the host site's user id when it signed one in, else empty. Nothing else about the
  customer (no names, e-mails or message text) is exported, and a user id that is an e-mail
  address is left out too: it would be raw PII in a file that travels;
- queue: the queue of the latest handoff; agent: the username of the latest handoff's assignee;
- started_at: when the conversation started (UTC, ISO 8601);
- first_human_response_at / first_response_seconds: the first agent reply to a handoff, and the
  wait from that handoff to it (the metrics page's "time to first human response");
- resolved_at, resolution_reason: the current resolution (empty while open or reopened);
- handoff_reason: why the first handoff happened; handoffs: how many there were;
- contained: resolved without a person (closed and never handed off);
- csat: the latest rating (1-5); messages: customer, bot and agent messages (system notices not
  counted); bot_turns: the bot's messages; model_cost_usd: the sum over its model calls.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django import forms
from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.models import Handoff, Message, ModelCall, WidgetSite
from conversations.reports.metrics import FIRST_RESPONSE_WAIT, contained_q, conversations_started

ExportFormat = Literal["csv", "jsonl"]
EXPORT_FORMATS: dict[ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
EXPORT_COLUMNS = (
    "conversation",
    "site",
    "channel",
    "customer",
    "queue",
    "agent",
    "started_at",
    "first_human_response_at",
    "first_response_seconds",
    "resolved_at",
    "resolution_reason",
    "handoff_reason",
    "handoffs",
    "contained",
    "csat",
    "messages",
    "bot_turns",
    "model_cost_usd",
)
# What the export queryset reads per conversation, in export_row's order.
EXPORT_VALUES = (
    "public_id",
    "site__key",
    "customer__external_id",
    "queue__name",
    "agent_name",
    "created_at",
    "first_response",
    "first_wait",
    "resolved_at",
    "resolution_reason",
    "first_reason",
    "handoff_count",
    "is_contained",
    "csat_score",
    "message_count",
    "bot_count",
    "cost",
)
CHANNEL = "web"
MICRODOLLAR = Decimal("0.000001")  # ModelCall.cost_usd's precision
# Rows per round trip to the server-side cursor: the most an export holds in memory at once.
CHUNK_SIZE = 1000
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRequest:
    start: date
    end: date  # inclusive
    format: ExportFormat
    site: WidgetSite | None = None

    @property
    def filename(self) -> str:
        # The site key is admin-editable text: only filename-safe characters go into the header.
        scope = re.sub(r"[^A-Za-z0-9_-]", "", self.site.key) + "-" if self.site else ""
        return f"conversations-{scope}{self.start.isoformat()}-{self.end.isoformat()}.{self.format}"


class ExportForm(forms.Form):
    """The export's parameters, for the metrics page and the command alike (one set of checks)."""

    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")], initial="csv")
    site = forms.ModelChoiceField(
        queryset=WidgetSite.objects.order_by("name"), to_field_name="key", required=False, empty_label="All sites"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" and "to" are what people type (and Python keywords), hence declared here.
        self.fields = {
            name: forms.DateField(
                label=name.title(),
                input_formats=["%Y-%m-%d"],
                error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
            )
            for name in ("from", "to")
        } | self.fields

    def clean(self) -> dict[str, Any]:
        super().clean()
        start, end = self.cleaned_data.get("from"), self.cleaned_data.get("to")
        if start and end and end < start:
            raise forms.ValidationError("The 'to' date is before the 'from' date.")
        return self.cleaned_data

    def export_request(self) -> ExportRequest:
        data = self.cleaned_data
        return ExportRequest(start=data["from"], end=data["to"], format=data["format"], site=data["site"])

    def error_text(self) -> str:
        """Every problem, each named by its parameter, for a 400 body or a CommandError."""
        return "; ".join(
            f"{field if field != '__all__' else 'range'}: {' '.join(str(m) for m in messages)}"
            for field, messages in self.errors.items()
        )


def _count(queryset: Any) -> Coalesce:
    counted = queryset.order_by().values("conversation").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def conversation_export_queryset(*, start: date, end: date, site: WidgetSite | None = None) -> QuerySet:
    """The conversations started from `start` to `end` (inclusive, in the server's time zone),
    oldest first, as tuples of EXPORT_VALUES."""
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    conversations = conversations_started(since=since, until=until)
    if site is not None:
        conversations = conversations.filter(site=site)
    handoffs = Handoff.objects.filter(conversation=OuterRef("pk"))
    first = handoffs.order_by("created_at", "id")
    latest = handoffs.order_by("-created_at", "-id")
    first_answered = first.filter(first_response_at__isnull=False)
    messages = Message.objects.filter(conversation=OuterRef("pk"))
    cost = (
        ModelCall.objects.filter(conversation=OuterRef("pk"))
        .order_by()
        .values("conversation")
        .annotate(total=Sum("cost_usd"))
        .values("total")
    )
    money = DecimalField(max_digits=14, decimal_places=6)
    return (
        conversations.annotate(
            agent_name=Subquery(latest.values("assignee__username")[:1]),
            first_response=Subquery(first_answered.values("first_response_at")[:1]),
            first_wait=Subquery(
                first_answered.annotate(wait=FIRST_RESPONSE_WAIT).values("wait")[:1], output_field=DurationField()
            ),
            first_reason=Subquery(first.values("reason")[:1]),
            handoff_count=_count(handoffs),
            is_contained=ExpressionWrapper(contained_q(), output_field=BooleanField()),
            message_count=_count(messages.exclude(role=Message.Role.SYSTEM)),
            bot_count=_count(messages.filter(role=Message.Role.BOT)),
            cost=Coalesce(Subquery(cost, output_field=money), Value(Decimal(0)), output_field=money),
        )
        .order_by("created_at", "id")
        .values_list(*EXPORT_VALUES)
    )


def export_row(values: tuple[Any, ...]) -> dict[str, Any]:
    """One tuple of the export queryset as the export's row, keyed by EXPORT_COLUMNS."""
    (
        public_id,
        site_key,
        external_id,
        queue,
        agent,
        started,
        first_response,
        first_wait,
        resolved,
        resolution_reason,
        handoff_reason,
        handoff_count,
        contained,
        csat,
        message_count,
        bot_count,
        cost_usd,
    ) = values
    return {
        "conversation": str(public_id),
        "site": site_key,
        "channel": CHANNEL,
        "customer": external_id if external_id and "@" not in external_id else "",
        "queue": queue or "",
        "agent": agent or "",
        "started_at": started,
        "first_human_response_at": first_response,
        "first_response_seconds": round(first_wait.total_seconds(), 1) if first_wait is not None else None,
        "resolved_at": resolved,
        "resolution_reason": resolution_reason,
        "handoff_reason": handoff_reason or "",
        "handoffs": handoff_count,
        "contained": contained,
        "csat": csat,
        "messages": message_count,
        "bot_turns": bot_count,
        "model_cost_usd": cost_usd.quantize(MICRODOLLAR),
    }


class ExportRows:
    """The export's rows, read through a server-side cursor inside one transaction.

    Why a transaction: outside one, Django declares the cursor WITH HOLD, and Postgres computes and
    stores the whole result before it returns a first row (12-15 s for 100k conversations in
    benchmarks/exports.py: a million would outlast a proxy's read timeout before the first byte).
    Inside one, Postgres computes rows as they are fetched (the first after 1.1 s there), all from
    one snapshot.

    Why not `with transaction.atomic()` in a generator: a download abandoned half-way leaves the
    generator to the garbage collector, which may close it in another thread, and leaving the block
    there would act on that thread's connection. Here the transaction ends only where the rows are
    read (to the end, or to an error); an abandoned export leaves its connection outside autocommit,
    which Django closes at the end of the request, and Postgres rolls back.
    """

    def __init__(self, queryset: QuerySet, *, chunk_size: int) -> None:
        self._queryset = queryset
        self._chunk_size = chunk_size
        self._atomic: transaction.Atomic | None = None
        self._rows: Iterator[tuple[Any, ...]] | None = None

    def __iter__(self) -> ExportRows:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._rows is None:
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self._rows = self._queryset.iterator(chunk_size=self._chunk_size)
        try:
            return export_row(next(self._rows))
        except BaseException as error:
            self._end(None if isinstance(error, StopIteration) else error)
            raise

    def _end(self, error: BaseException | None) -> None:
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            atomic.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)


def conversation_export_rows(
    *, start: date, end: date, site: WidgetSite | None = None, chunk_size: int = CHUNK_SIZE
) -> ExportRows:
    """The export's rows, `chunk_size` at a time from the database."""
    return ExportRows(conversation_export_queryset(start=start, end=end, site=site), chunk_size=chunk_size)


def csv_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Line:
    """csv.writer's file: hands back each formatted line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        yield writer.writerow([csv_cell(row[column]) for column in EXPORT_COLUMNS])


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return float(value)  # six decimals of dollars: exact enough as a JSON number
    raise TypeError(f"cannot export {type(value).__name__}")


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, default=_json_value, ensure_ascii=False) + "\n"


def export_lines(request: ExportRequest, *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The whole export, line by line, in the requested format."""
    rows = conversation_export_rows(start=request.start, end=request.end, site=request.site, chunk_size=chunk_size)
    return csv_lines(rows) if request.format == "csv" else jsonl_lines(rows)
