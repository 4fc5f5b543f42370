"""Handoff workflow benchmark (not a test): how fast the Celery chain gets a waiting customer to
an agent, alone and under a burst, on the real stack (embedded Postgres/Redis in .data/bench
unless configured, real Celery worker processes).

Latencies come from the rows themselves: created_at -> assigned_at (summarize, route and assign:
three tasks) and created_at -> notified_at (the fourth, the customer's "joined" included).

  * baseline: handoffs opened one at a time, each waiting for the previous to be assigned;
  * burst: --burst handoffs opened at once across --agents online agents.

It also checks what must hold under load: every handoff assigned exactly once (one `assigned`
event each) and no agent above capacity. Results: benchmarks/results/handoff.json.

    .venv/bin/python benchmarks/handoff.py [--burst 200] [--agents 10] [--sequential 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bot_turn import summary  # noqa: E402
from benchmarks.chat_transport import setup_django  # noqa: E402


def bench_setup(agents: int, capacity: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.models import AgentProfile, Handoff, Queue, Team, WidgetSite
    from demoshop.demo_accounts import support_agents_group_ensure

    Handoff.objects.filter(status__in=Handoff.OPEN_STATUSES).update(status="resolved")  # earlier runs
    group = support_agents_group_ensure()
    team, _ = Team.objects.get_or_create(name="Bench team")
    users = []
    for n in range(agents):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-agent-{n}", defaults={"is_staff": True})
        user.groups.add(group)
        AgentProfile.objects.update_or_create(
            user=user,
            defaults={
                "presence": "online",
                "capacity": capacity,
                "socket_seen_at": timezone.now() + timezone.timedelta(hours=1),
            },
        )
        users.append(user)
    team.members.set(users)
    Queue.objects.filter(is_default=True).exclude(name="Bench").update(is_default=False)
    queue, _ = Queue.objects.get_or_create(name="Bench", defaults={"is_default": True})
    queue.teams.set([team])
    Queue.objects.exclude(pk=queue.pk).delete()
    site, _ = WidgetSite.objects.get_or_create(key="bench-handoff-site", defaults={"name": "Bench"})
    return site, users


def open_conversations(site, count: int) -> list[int]:
    import uuid

    from conversations.flows.messages import customer_message_post
    from conversations.models import Conversation, Customer

    customers = Customer.objects.bulk_create([Customer(site=site) for _ in range(count)])
    conversations = Conversation.objects.bulk_create([Conversation(site=site, customer=c) for c in customers])
    for conversation in conversations:
        customer_message_post(
            conversation_id=conversation.pk, text="My parcel never arrived, can a person help?", client_id=uuid.uuid4()
        )
    return [c.pk for c in conversations]


def wait_until_notified(handoff_ids: list[int], timeout: float) -> bool:
    from conversations.models import Handoff

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Handoff.objects.filter(pk__in=handoff_ids, notified_at__isnull=True).exists():
            return True
        time.sleep(0.02)
    return False


def latencies(handoff_ids: list[int]) -> dict:
    from conversations.models import Handoff

    rows = list(Handoff.objects.filter(pk__in=handoff_ids).values_list("created_at", "assigned_at", "notified_at"))
    assigned = [(a - c).total_seconds() * 1000 for c, a, _ in rows if a]
    notified = [(n - c).total_seconds() * 1000 for c, _, n in rows if n]
    return {
        "created_to_assigned_ms": summary(assigned),
        "created_to_notified_ms": summary(notified),
        "unassigned": sum(1 for _, a, _ in rows if a is None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (prefork)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "handoff.json")
    args = parser.parse_args()

    setup_django()
    from django.db import connections
    from django.db.models import Count

    from conversations.handoff.services import handoff_open
    from conversations.models import Handoff, HandoffEvent
    from supportbot.celery import app

    # Room for every handoff of the run: this measures speed, not queueing.
    capacity = -(-(args.burst + args.sequential + 2) // args.agents) + 1
    site, users = bench_setup(args.agents, capacity)
    app.control.purge()
    connections.close_all()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="supportbot.settings.base",
        LOG_LEVEL="WARNING",
        HANDOFF_MODEL_SUMMARY="false",
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "supportbot",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(args.concurrency),
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        warm = open_conversations(site, 2)
        wait_until_notified([handoff_open(conversation_id=c, reason="customer_request").pk for c in warm], timeout=120)

        sequential_ids = []
        for conversation_id in open_conversations(site, args.sequential):
            handoff = handoff_open(conversation_id=conversation_id, reason="customer_request")
            wait_until_notified([handoff.pk], timeout=60)
            sequential_ids.append(handoff.pk)

        burst_conversations = open_conversations(site, args.burst)
        started = time.perf_counter()
        burst_ids = [handoff_open(conversation_id=c, reason="customer_request").pk for c in burst_conversations]
        opened = time.perf_counter() - started
        finished = wait_until_notified(burst_ids, timeout=300)
        wall = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assigned_events = dict(
        HandoffEvent.objects.filter(handoff_id__in=burst_ids, kind="assigned")
        .values("handoff_id")
        .annotate(n=Count("id"))
        .values_list("handoff_id", "n")
    )
    loads = dict(
        Handoff.objects.filter(pk__in=burst_ids, status="assigned")
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    baseline = latencies(sequential_ids)
    burst = latencies(burst_ids)
    result = {
        "benchmark": "handoff",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "worker_processes": args.concurrency,
        "agents": args.agents,
        "capacity_each": capacity,
        "baseline_one_at_a_time": {"handoffs": args.sequential, **baseline},
        "burst": {
            "handoffs": args.burst,
            **burst,
            "finished": finished,
            "open_s": round(opened, 2),
            "wall_s": round(wall, 2),
            "handoffs_per_s": round(args.burst / wall, 1),
        },
        "burst_p50_over_baseline_p50": round(
            burst["created_to_assigned_ms"]["p50"] / baseline["created_to_assigned_ms"]["p50"], 2
        ),
        "invariants": {
            "assigned_exactly_once": all(n == 1 for n in assigned_events.values())
            and len(assigned_events) == args.burst,
            "max_load": max(loads.values(), default=0),
            "capacity": capacity,
            "agents_used": len(loads),
            "spread_min_max": [min(loads.values(), default=0), max(loads.values(), default=0)],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
