"""Chat transport benchmark (not a test): our full message path against a bare echo baseline.

Starts one Daphne process on the real stack (Postgres+pgvector and Redis: embedded in
.data/bench unless DATABASE_URL/REDIS_URL are set) and, in the same run, measures:

  * echo:  N concurrent clients doing round trips against a bare echo consumer (the baseline);
  * chat:  N concurrent clients, each in its own conversation, doing the full path: frame
           validation, rate limit, persist with a database seq, ack, and the broadcast of the
           stored message through the Redis channel layer to the conversation's group (received
           by the server process; the sender's own socket skips its echo, it has the ack). A
           round trip ends when the ack arrives;
  * idle:  K idle chat connections held by the one Daphne process, and its RSS.

Echo and chat alternate for --rounds rounds; medians are reported. Results are printed and
written as JSON to benchmarks/results/chat_transport.json.

    .venv/bin/python benchmarks/chat_transport.py [--clients 100] [--duration 8] [--idle 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def make_sessions(count: int, origin: str) -> list[tuple[str, str]]:
    """Create `count` conversations on a benchmark site; return (public_id, token) pairs."""
    from conversations.models import Conversation, Customer, WidgetSite
    from conversations.widget.tokens import conversation_token_issue

    # The bot is off on this site: this benchmark measures the transport; bot_turn.py measures the bot.
    site, _ = WidgetSite.objects.get_or_create(key="bench-site", defaults={"name": "Bench", "allowed_origins": [origin]})
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=False, handoff_when_bot_off=False)
    if origin not in site.allowed_origins:
        site.allowed_origins = [*site.allowed_origins, origin]
        site.save(update_fields=["allowed_origins"])
    customers = Customer.objects.bulk_create([Customer(site=site) for _ in range(count)])
    conversations = Conversation.objects.bulk_create([Conversation(site=site, customer=c) for c in customers])
    return [(str(c.public_id), conversation_token_issue(conversation_id=c.public_id, site_key=site.key,
                                                        customer_key=c.customer.anonymous_id))
            for c in conversations]


def wait_for_healthz(origin: str, *, seconds: float) -> None:
    """Until the server answers /healthz at all (503 without a Celery worker is fine here)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{origin}/healthz", timeout=10)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_clients(kind: str, urls: list[str], origin: str, duration: float, interval: float = 0.0) -> dict:
    """Closed loop (interval 0: each client sends again as soon as its round trip ends) or paced
    (each client sends one message every `interval` seconds, like people typing)."""
    import websockets

    latencies: list[float] = []
    errors = 0
    phase_start = time.monotonic()
    stop_at = phase_start + duration
    # Paced phases ignore round trips begun during the connection ramp: they measure steady load.
    measure_from = phase_start + (min(2.0, duration / 4) if interval else 0.0)

    async def client(url: str) -> None:
        nonlocal errors
        try:
            async with websockets.connect(url, origin=origin, max_size=2**20, open_timeout=30) as ws:
                if kind == "chat":
                    await ws.send(json.dumps({"type": "resume", "after_seq": 0}))
                    while json.loads(await ws.recv())["type"] != "status":
                        pass
                if interval:
                    await asyncio.sleep(random.uniform(0, interval))  # spread the clients' phases
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    if kind == "echo":
                        await ws.send("ping")
                        await ws.recv()
                    else:
                        client_id = str(uuid.uuid4())
                        await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": "Where is my order A1234?"}))
                        # The ack means stored with its seq; the broadcast is published to the
                        # conversation's group (here only this socket, which skips its own echo).
                        while True:
                            frame = json.loads(await ws.recv())
                            if frame["type"] == "error":
                                errors += 1
                                break
                            if frame["type"] == "ack" and frame["client_id"] == client_id:
                                break
                    if time.monotonic() - (time.perf_counter() - started) >= measure_from:
                        latencies.append((time.perf_counter() - started) * 1000)
                    if interval:
                        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
        except Exception as error:  # count, keep going: a benchmark reports errors, it does not crash
            errors += 1
            print(f"  {kind} client error: {type(error).__name__}: {error}", file=sys.stderr)

    started = time.monotonic()
    await asyncio.gather(*(client(url) for url in urls))
    elapsed = time.monotonic() - max(started, measure_from)
    return {
        "round_trips": len(latencies),
        "round_trips_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "errors": errors,
    }


async def hold_idle(urls: list[str], origin: str, server_pid: int) -> dict:
    import psutil
    import websockets

    process = psutil.Process(server_pid)
    rss_before = process.memory_info().rss
    sockets = []
    errors = 0
    semaphore = asyncio.Semaphore(100)  # open in waves: a connect storm is a different benchmark

    async def open_one(url: str) -> None:
        nonlocal errors
        async with semaphore:
            try:
                sockets.append(await websockets.connect(url, origin=origin, open_timeout=60, ping_interval=None))
            except Exception:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(open_one(url) for url in urls))
    open_seconds = time.monotonic() - started
    await asyncio.sleep(3)
    rss_held = process.memory_info().rss
    # Every held socket must still be usable, not merely open.
    probe = sockets[-1] if sockets else None
    probe_ok = False
    if probe is not None:
        await probe.send(json.dumps({"type": "resume", "after_seq": 0}))
        probe_ok = json.loads(await asyncio.wait_for(probe.recv(), 10))["type"] in {"resumed", "message"}
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "connections": len(sockets),
        "errors": errors,
        "open_seconds": round(open_seconds, 2),
        "server_rss_before_mb": round(rss_before / 2**20, 1),
        "server_rss_held_mb": round(rss_held / 2**20, 1),
        "per_connection_kb": round((rss_held - rss_before) / max(1, len(sockets)) / 1024, 1),
        "probe_ok": probe_ok,
    }


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--paced-interval", type=float, default=1.0,
                        help="seconds between messages per client in the paced phase (0 skips it)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "chat_transport.json")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle * 2 + 1024)), hard))

    import psutil

    setup_django()
    origin = f"http://127.0.0.1:{args.port}"
    sessions = make_sessions(args.clients + args.idle, origin)
    from django.db import connections

    connections.close_all()

    # Every limit off: this measures the transport, not the abuse limits (which answer at once
    # with an error frame and would inflate the figures).
    env = dict(os.environ, BENCHMARK_ECHO_ENDPOINT="true", CHAT_RATE_BURST="1000000", CHAT_RATE_PER_SECOND="1000000",
               LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000000", LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE="1000000",
               CHAT_MAX_SOCKETS_PER_IP="1000000",
               DJANGO_SETTINGS_MODULE="supportbot.settings.base", LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(args.port), "--access-log", os.devnull,
         "supportbot.asgi:application"],
        cwd=ROOT, env=env,
    )
    try:
        wait_for_healthz(origin, seconds=30)
        base = f"ws://127.0.0.1:{args.port}"
        echo_urls = [f"{base}/ws/echo/"] * args.clients
        chat_urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions[: args.clients]]
        idle_urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions[args.clients :]]

        asyncio.run(run_clients("echo", echo_urls, origin, 2.0))  # warm-up: imports, pools, JIT-free caches
        asyncio.run(run_clients("chat", chat_urls, origin, 2.0))
        echo_runs, chat_runs = [], []
        for round_number in range(args.rounds):
            echo_runs.append(asyncio.run(run_clients("echo", echo_urls, origin, args.duration)))
            chat_runs.append(asyncio.run(run_clients("chat", chat_urls, origin, args.duration)))
            print(f"round {round_number + 1}: echo {echo_runs[-1]['round_trips_per_s']:.0f}/s, "
                  f"chat {chat_runs[-1]['round_trips_per_s']:.0f}/s (p95 {chat_runs[-1]['p95_ms']:.1f} ms)")
        paced = None
        if args.paced_interval:
            paced = {
                "interval_s": args.paced_interval,
                "echo": asyncio.run(run_clients("echo", echo_urls, origin, args.duration, args.paced_interval)),
                "chat": asyncio.run(run_clients("chat", chat_urls, origin, args.duration, args.paced_interval)),
            }
        rss_after_load = psutil.Process(server.pid).memory_info().rss
        idle = asyncio.run(hold_idle(idle_urls, origin, server.pid)) if args.idle else None
    finally:
        server.terminate()
        server.wait(timeout=20)

    summary = {key: median_of(chat_runs, key) for key in ("round_trips_per_s", "p50_ms", "p95_ms", "p99_ms")}
    baseline = {key: median_of(echo_runs, key) for key in ("round_trips_per_s", "p50_ms", "p95_ms", "p99_ms")}
    result = {
        "benchmark": "chat_transport",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "clients": args.clients,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "chat": {**{k: round(v, 2) for k, v in summary.items()}, "errors": sum(r["errors"] for r in chat_runs), "runs": chat_runs},
        "echo_baseline": {**{k: round(v, 2) for k, v in baseline.items()}, "errors": sum(r["errors"] for r in echo_runs), "runs": echo_runs},
        "ratio_chat_to_echo": round(summary["round_trips_per_s"] / baseline["round_trips_per_s"], 3),
        "paced": paced,
        "server_rss_after_load_mb": round(rss_after_load / 2**20, 1),
        "idle": idle,
        "targets": {
            "ratio_at_least": 0.5, "p95_ms_at_most": 50, "idle_connections": 2000, "idle_rss_mb_at_most": 1024,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("chat", "echo_baseline")} | {
        "chat": {k: v for k, v in result["chat"].items() if k != "runs"},
        "echo_baseline": {k: v for k, v in result["echo_baseline"].items() if k != "runs"},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
