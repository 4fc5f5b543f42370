"""Where the slow turns of an open-loop round spend their time (benchmarks/open_loop.py --trace).

The web processes append one line per bot turn with the wall-clock time of each stage
(supportbot/runtime/trace.py), plus event-loop stalls, slow collections and the thread pool's
queue length once a second; the benchmark's client knows when each message left and when its
first delta and its stored answer arrived, on the same clock. Each answered message is joined to
the turn that answered it (same conversation, the turn that ended last before the answer arrived),
and the gaps between consecutive marks are summed per stage. The report compares the turns at or
above the 95th percentile of time to first delta (and of time to the final message) with the
middle band (40th to 60th percentile): the stages whose mean grows are where the tail comes from.

Stage names are the mark that ends the gap: `X:run` is the wait for a thread-pool thread before
the ORM function X started, `X:done` its run time, `X:queued` the event-loop time before X was
called; `<job>:sent` is the wait for a free model worker, `<job>:done` the worker's batch.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

Message = tuple[str, float, float | None, float | None, str]


def trace_records(path: Path, start: float, end: float) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not path.exists():
        return kinds
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a process stopping mid-write
            when = record["marks"][-1][1] if record["kind"] == "turn" else record["t"]
            if start <= when <= end:
                kinds[record["kind"]].append(record)
    return kinds


def _joined(messages: list[Message], turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for turn in turns:
        by_conversation[turn["public_id"]].append(turn)
    joined = []
    for public_id, sent, first, final, outcome in messages:
        if outcome != "answered" or first is None or final is None:
            continue
        # The turn that started after the message left and before its answer came: the latest such
        # (a turn started by an earlier message may still have been running when this one left).
        candidates = [
            t for t in by_conversation.get(public_id, ()) if sent - 0.05 <= dict(t["marks"])["turn_start"] <= final
        ]
        if not candidates:
            continue
        turn = max(candidates, key=lambda t: dict(t["marks"])["turn_start"])
        marks = sorted(
            [("client_sent", sent), *map(tuple, turn["marks"]), ("client_first_delta", first), ("client_final", final)],
            key=lambda m: m[1],
        )
        gaps: dict[str, float] = defaultdict(float)
        for (_, before), (name, at) in zip(marks, marks[1:]):
            gaps[name] += (at - before) * 1000
        joined.append(
            {
                "first_ms": (first - sent) * 1000,
                "final_ms": (final - sent) * 1000,
                "pid": turn["pid"],
                "gaps": gaps,
                "marks": marks,
            }
        )
    return joined


def _band(rows: list[dict[str, Any]], key: str, low: float, high: float) -> list[dict[str, Any]]:
    ordered = sorted(rows, key=lambda r: r[key])
    return ordered[int(len(ordered) * low) : max(int(len(ordered) * low) + 1, int(len(ordered) * high))]


def _mean_gaps(rows: list[dict[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        for name, ms in row["gaps"].items():
            totals[name] += ms
    return {name: total / max(1, len(rows)) for name, total in totals.items()}


def trace_report(messages: list[Message], path: Path, start: float, end: float, *, top: int = 12) -> dict[str, Any]:
    records = trace_records(path, start, end)
    joined = _joined(messages, records["turn"])
    report: dict[str, Any] = {"turns_traced": len(records["turn"]), "answers_joined": len(joined)}
    if not joined:
        return report
    for key in ("first_ms", "final_ms"):
        middle, slow = _band(joined, key, 0.4, 0.6), _band(joined, key, 0.95, 1.0)
        mid_gaps, slow_gaps = _mean_gaps(middle), _mean_gaps(slow)
        names = sorted(
            set(mid_gaps) | set(slow_gaps), key=lambda n: slow_gaps.get(n, 0) - mid_gaps.get(n, 0), reverse=True
        )
        report[key] = {
            "middle_mean_ms": round(statistics.mean(r[key] for r in middle), 1),
            "slow_mean_ms": round(statistics.mean(r[key] for r in slow), 1),
            "slow_count": len(slow),
            "stages_mean_ms_middle_vs_slow": [
                [name, round(mid_gaps.get(name, 0.0), 1), round(slow_gaps.get(name, 0.0), 1)] for name in names[:top]
            ],
        }
    by_pid: dict[int, list[float]] = defaultdict(list)
    for row in joined:
        by_pid[row["pid"]].append(row["first_ms"])
    report["web_processes"] = {
        str(pid): {"turns": len(v), "first_ms_p50": round(statistics.median(v), 1), "first_ms_max": round(max(v), 1)}
        for pid, v in sorted(by_pid.items())
    }
    stalls = records["stall"]
    report["loop_stalls"] = {
        "count": len(stalls),
        "total_s": round(sum(s["s"] for s in stalls), 2),
        "max_s": round(max((s["s"] for s in stalls), default=0.0), 3),
        "over_0.5s": sum(1 for s in stalls if s["s"] >= 0.5),
    }
    report["loop_stalls"]["cpu_share"] = round(
        sum(s.get("cpu_s", 0.0) for s in stalls) / max(1e-9, sum(s["s"] + 0.1 for s in stalls)), 2
    )
    report["gc_over_5ms"] = {}
    for generation in (0, 1, 2):
        collections = [c for c in records["gc"] if c["generation"] == generation]
        if collections:
            report["gc_over_5ms"][f"gen{generation}"] = {
                "count": len(collections),
                "total_s": round(sum(c["s"] for c in collections), 2),
                "max_s": round(max(c["s"] for c in collections), 3),
                "cpu_s": round(sum(c.get("cpu_s", 0.0) for c in collections), 2),
            }
    report["model_worker_batches"] = {}
    for job in sorted({b["job"] for b in records["batch"]}):
        batches = [b for b in records["batch"] if b["job"] == job]

        def pct(key: str, q: float, rows: list[dict[str, Any]] = batches) -> float:
            ordered = sorted(r[key] for r in rows)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

        report["model_worker_batches"][job] = {
            "batches": len(batches),
            "mean_size": round(statistics.mean(b["size"] for b in batches), 2),
            "wait_ms_p50_p95_max": [pct("wait_s", 0.5), pct("wait_s", 0.95), pct("wait_s", 1.0)],
            "run_ms_p50_p95_max": [pct("run_s", 0.5), pct("run_s", 0.95), pct("run_s", 1.0)],
            "cpu_ms_p50_p95_max": [pct("cpu_s", 0.5), pct("cpu_s", 0.95), pct("cpu_s", 1.0)],
            "trip_ms_p95": [pct("to_worker_s", 0.95), pct("back_s", 0.95)],
        }
    queued = [r["pool_queued"] for r in records["load"] if r.get("pool_queued") is not None]
    report["thread_pool_queued"] = {
        "p50": statistics.median(queued) if queued else None,
        "max": max(queued) if queued else None,
    }
    waiters = [r["publish_waiters"] for r in records["load"] if r.get("publish_waiters") is not None]
    report["publish_lock_waiters_per_second_worst"] = {
        "p50": statistics.median(waiters) if waiters else None,
        "p95": sorted(waiters)[int(0.95 * (len(waiters) - 1))] if waiters else None,
        "max": max(waiters) if waiters else None,
    }
    subscribing = [r["subscribe_queued"] for r in records["load"] if r.get("subscribe_queued") is not None]
    if subscribing:  # traces from before the subscriptions had a sender of their own have none
        report["subscribe_queued_per_second_worst"] = {
            "p50": statistics.median(subscribing),
            "max": max(subscribing),
        }
    slowest = sorted(joined, key=lambda r: r["final_ms"])[-3:]
    report["slowest_timelines"] = [
        " ".join(f"{name}@{(at - row['marks'][0][1]) * 1000:.0f}" for name, at in row["marks"]) for row in slowest
    ]
    return report


def trace_lines(report: dict[str, Any]) -> list[str]:
    """The report, readable in a terminal."""
    lines = [f"trace: {report['turns_traced']} turns, {report['answers_joined']} answers joined"]
    for key in ("first_ms", "final_ms"):
        if key not in report:
            continue
        part = report[key]
        lines.append(
            f"  {key}: middle band mean {part['middle_mean_ms']} ms, slowest 5% ({part['slow_count']}) mean "
            f"{part['slow_mean_ms']} ms; stages (middle -> slow, ms):"
        )
        lines.extend(
            f"    {name:32} {mid:9.1f} -> {slow:9.1f}" for name, mid, slow in part["stages_mean_ms_middle_vs_slow"]
        )
    for key in (
        "web_processes",
        "loop_stalls",
        "gc_over_5ms",
        "thread_pool_queued",
        "publish_lock_waiters_per_second_worst",
        "subscribe_queued_per_second_worst",
        "model_worker_batches",
    ):
        if key in report:
            lines.append(f"  {key}: {json.dumps(report[key])}")
    lines.extend(f"  slow: {timeline}" for timeline in report.get("slowest_timelines", ()))
    return lines
