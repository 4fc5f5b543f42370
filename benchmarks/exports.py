"""Conversation export benchmark (not a test): the streamed export (server-side cursor, 1,000 rows
per fetch) against materialising the same queryset as a list first, in the same run, on the same
data, each writing the same CSV to /dev/null; and the same cursor outside a transaction (Django
then declares it WITH HOLD and Postgres computes the whole result before the first row).

Synthetic conversations over the last 30 days are loaded with INSERT ... SELECT into a database
of their own (.data/bench-exports): 4 messages each, 2 model calls each, a fifth handed off to an
agent (first response after a minute) and resolved, a third rated. Each mode runs in a fresh
child process, so what its peak RSS grew by during the export is its own (RSS also sees libpq's
buffers, which tracemalloc does not). The tracemalloc peak comes from one more, traced run per
mode; rows/s from the untraced runs (tracing slows Python down).

    .venv/bin/python benchmarks/exports.py [--conversations 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_transport import setup_django  # noqa: E402

SITE_KEY = "bench-exports"
DAYS = 30


def _copy_rows(model, *, template_id: int, source: str, overrides: dict[str, str], params: list) -> None:
    """INSERT ... SELECT copies of one template row, each column from `overrides` (SQL over
    `source`) or else the template's: later migrations' columns get the template's values."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id" and not f.generated]
    values = [overrides.get(column, f"t.{quote(column)}") for column in columns]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(map(quote, columns))}) SELECT {', '.join(values)} "
            f"FROM {table} AS t, {source} AND t.id = %s",
            [*params, template_id],
        )


def load(count: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from conversations.models import Conversation, Customer, Handoff, Message, ModelCall, WidgetSite

    site, _ = WidgetSite.objects.get_or_create(key=SITE_KEY, defaults={"name": "Bench exports"})
    if Conversation.objects.filter(site=site).count() == count + 1:  # loaded by an earlier run
        return
    Conversation.objects.filter(site=site).delete()
    Customer.objects.filter(site=site).delete()
    agent, _ = get_user_model().objects.get_or_create(username="bench-agent", defaults={"is_staff": True})
    customer = Customer.objects.create(site=site, external_id="bench-customer")
    # The templates: every column the copies do not set comes from these rows.
    template = Conversation.objects.create(site=site, customer=customer, last_seq=4)
    Conversation.objects.filter(pk=template.pk).update(created_at="2000-01-01T00:00:00Z")  # outside every range
    message = Message.objects.create(conversation=template, seq=1, role="customer", text="template")
    handoff = Handoff.objects.create(conversation=template, reason="customer_request", assignee=agent)
    call = ModelCall.objects.create(
        conversation=template,
        turn_id="00000000-0000-0000-0000-000000000000",
        model="bench",
        prompt_version="v1",
        outcome="ok",
    )
    started = time.perf_counter()
    _copy_rows(
        Conversation,
        template_id=template.pk,
        source="generate_series(1, %s) AS g WHERE true",
        params=[count],
        overrides={
            "public_id": "gen_random_uuid()",
            "created_at": f"now() - random() * interval '{DAYS} days'",
            "status": "CASE WHEN mod(g, 10) = 0 THEN 'bot' ELSE 'resolved' END",
            "handoff_reason": "CASE WHEN mod(g, 5) = 1 THEN 'customer_request' ELSE '' END",
            "assignee_id": f"CASE WHEN mod(g, 5) = 1 THEN {agent.pk} END",
            "resolution_reason": "CASE WHEN mod(g, 10) = 0 THEN '' WHEN mod(g, 5) = 1 THEN 'order_fixed' "
            "ELSE 'no_response' END",
            "csat_score": "CASE WHEN mod(g, 3) = 0 AND mod(g, 10) <> 0 THEN 1 + mod(g, 5) END",
        },
    )
    copies = f"conversations_conversation AS c WHERE c.site_id = {site.pk} AND c.id <> {template.pk}"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE conversations_conversation SET resolved_at = created_at + interval '10 minutes' "
            "WHERE site_id = %s AND status = 'resolved' AND id <> %s",
            [site.pk, template.pk],
        )
    _copy_rows(
        Message,
        template_id=message.pk,
        source=f"generate_series(1, 4) AS s, {copies}",
        params=[],
        overrides={
            "conversation_id": "c.id",
            "seq": "s",
            "created_at": "c.created_at + s * interval '1 minute'",
            "role": "CASE WHEN mod(s, 2) = 1 THEN 'customer' WHEN c.handoff_reason <> '' AND s = 4 "
            "THEN 'agent' ELSE 'bot' END",
            "text": "'where is my order?'",
        },
    )
    _copy_rows(
        ModelCall,
        template_id=call.pk,
        source=f"generate_series(1, 2) AS s, {copies}",
        params=[],
        overrides={
            "conversation_id": "c.id",
            "turn_id": "gen_random_uuid()",
            "cost_usd": "0.000850",
            "created_at": "c.created_at",
        },
    )
    _copy_rows(
        Handoff,
        template_id=handoff.pk,
        source=f"{copies} AND c.handoff_reason <> ''",
        params=[],
        overrides={
            "conversation_id": "c.id",
            "status": "'resolved'",
            "created_at": "c.created_at + interval '2 minutes'",
            "first_response_at": "c.created_at + interval '3 minutes'",
        },
    )
    with connection.cursor() as cursor:
        for table in ("conversation", "message", "modelcall", "handoff"):
            cursor.execute(f"ANALYZE conversations_{table}")
    print(json.dumps({"loaded": count, "load_seconds": round(time.perf_counter() - started, 1)}), flush=True)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_mode(mode: str, traced: bool) -> dict:
    """One export in this process: `stream` (the product's path), `stream_autocommit` (its cursor
    without the transaction) or `list` (the baseline)."""
    from django.utils import timezone

    from conversations.inbox.exports import (
        CHUNK_SIZE,
        conversation_export_queryset,
        conversation_export_rows,
        csv_lines,
        export_row,
    )
    from conversations.models import WidgetSite

    site = WidgetSite.objects.get(key=SITE_KEY)
    rss_before = _rss_mb()
    end = timezone.localdate()
    start = end - timedelta(days=DAYS + 1)
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    first_row_at = None
    rows = 0
    with open(os.devnull, "w", newline="") as out:
        if mode == "stream":
            source = conversation_export_rows(start=start, end=end, site=site)
        elif mode == "stream_autocommit":  # the same cursor outside a transaction: Django declares it WITH HOLD
            queryset = conversation_export_queryset(start=start, end=end, site=site)
            source = map(export_row, queryset.iterator(chunk_size=CHUNK_SIZE))
        else:
            source = map(export_row, list(conversation_export_queryset(start=start, end=end, site=site)))
        for line in csv_lines(source):
            if first_row_at is None and rows == 1:
                first_row_at = time.perf_counter()
            out.write(line)
            rows += 1
    seconds = time.perf_counter() - began
    result = {
        "mode": mode,
        "rows": rows - 1,
        "seconds": round(seconds, 2),
        "first_row_seconds": round((first_row_at or began) - began, 2),
        "rows_per_second": round((rows - 1) / seconds),
        # The process's high-water mark over its resident size before the export began:
        # what the export itself added, libpq's buffers included.
        "rss_growth_mb": round(max(0.0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before), 1),
    }
    if traced:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
        tracemalloc.stop()
    return result


def child(mode: str, traced: bool) -> dict:
    command = [sys.executable, __file__, "--child", mode] + (["--traced"] if traced else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="untraced runs per mode (medians reported)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "exports.json")
    parser.add_argument("--child", choices=["stream", "stream_autocommit", "list"], help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench-exports"))
    if args.child:
        os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
        import django

        django.setup()
        print(json.dumps(run_mode(args.child, args.traced)))
        return 0
    setup_django()
    load(args.conversations)
    result: dict = {
        "benchmark": "exports",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "conversations": args.conversations,
        "load_average": os.getloadavg()[0],
        "modes": {},
    }
    runs: dict[str, list[dict]] = {"stream": [], "stream_autocommit": [], "list": []}
    for _ in range(args.repeats):  # interleaved, so a burst of load on the shared machine hits both
        for mode in runs:
            runs[mode].append(child(mode, traced=False))
            print(json.dumps(runs[mode][-1]), flush=True)
    for mode, mode_runs in runs.items():
        traced = child(mode, traced=True) if mode != "stream_autocommit" else {"tracemalloc_peak_mb": None}
        print(json.dumps(traced), flush=True)
        result["modes"][mode] = {
            "rows": mode_runs[0]["rows"],
            "median_seconds": statistics.median(r["seconds"] for r in mode_runs),
            "median_rows_per_second": statistics.median(r["rows_per_second"] for r in mode_runs),
            "median_first_row_seconds": statistics.median(r["first_row_seconds"] for r in mode_runs),
            "median_rss_growth_mb": statistics.median(r["rss_growth_mb"] for r in mode_runs),
            "tracemalloc_peak_mb": traced["tracemalloc_peak_mb"],
        }
    stream, baseline = result["modes"]["stream"], result["modes"]["list"]
    result["rss_growth_ratio_list_over_stream"] = round(
        baseline["median_rss_growth_mb"] / max(stream["median_rss_growth_mb"], 0.1), 1
    )
    result["tracemalloc_ratio_list_over_stream"] = round(
        baseline["tracemalloc_peak_mb"] / stream["tracemalloc_peak_mb"], 1
    )
    result["speed_ratio_stream_over_list"] = round(
        stream["median_rows_per_second"] / baseline["median_rows_per_second"], 2
    )
    result["first_row_ratio_autocommit_over_stream"] = round(
        result["modes"]["stream_autocommit"]["median_first_row_seconds"]
        / max(stream["median_first_row_seconds"], 0.01),
        1,
    )
    result["load_average_end"] = os.getloadavg()[0]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
