"""Chat transport benchmark (not a test): our full message path against a bare echo baseline.

Starts N Daphne processes sharing one listening socket (bound here and handed to each with
`daphne --fd`, as the supervisor starts them) on the real stack (Postgres+pgvector and Redis:
embedded in .data/bench unless DATABASE_URL/REDIS_URL are set) and, in the same run, measures:

  * echo:  N concurrent clients doing round trips against a bare echo consumer (the baseline);
  * chat:  N concurrent clients, each in its own conversation, doing the full path: frame
           validation, rate limit, PII detection (in the redaction workers) and redaction, persist
           with a database seq, ack, and the broadcast of the stored message through the Redis
           channel layer to the conversation's group (received by the server process; the sender's
           own socket skips its echo, it has the ack). A round trip counts when its ack arrives;
           an error frame counts as an error, not a round trip;
  * CPU:   CPU milliseconds per round trip of the web processes with their redaction workers (and
           the two apart), of Postgres and Redis, and of this process's own clients, from their
           CPU times before and after each phase;
  * idle:  K idle chat connections held by the first configuration's web processes, and their RSS.

For each process count in --processes, echo and chat alternate for --rounds rounds; medians are
reported. Results are printed and written as JSON to benchmarks/results/chat_transport.json.

    .venv/bin/python benchmarks/chat_transport.py [--processes 1,2] [--clients 100] [--duration 8]
        [--rounds 3] [--idle 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import socket
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
    from conversations.lib.tokens import conversation_token_issue
    from conversations.models import Conversation, Customer, WidgetSite

    # The bot is off on this site: this benchmark measures the transport; bot_turn.py measures the bot.
    site, _ = WidgetSite.objects.get_or_create(
        key="bench-site", defaults={"name": "Bench", "allowed_origins": [origin]}
    )
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=False, handoff_when_bot_off=False)
    if origin not in site.allowed_origins:
        site.allowed_origins = [*site.allowed_origins, origin]
        site.save(update_fields=["allowed_origins"])
    customers = Customer.objects.bulk_create([Customer(site=site) for _ in range(count)])
    conversations = Conversation.objects.bulk_create([Conversation(site=site, customer=c) for c in customers])
    return [
        (
            str(c.public_id),
            conversation_token_issue(
                conversation_id=c.public_id, site_key=site.key, customer_key=c.customer.anonymous_id
            ),
        )
        for c in conversations
    ]


def wait_for_healthz(origin: str, *, seconds: float, process: subprocess.Popen | None = None) -> None:
    """Until the server answers /healthz at all (503 without a Celery worker is fine here)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"web process exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{origin}/healthz", timeout=10)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{origin}/healthz did not answer within {seconds} s")


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
    error_codes: dict[str, int] = {}
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
                    ok = True
                    if kind == "echo":
                        await ws.send("ping")
                        await ws.recv()
                    else:
                        client_id = str(uuid.uuid4())
                        await ws.send(
                            json.dumps({"type": "message", "client_id": client_id, "text": "Where is my order A1234?"})
                        )
                        # The ack means stored with its seq; the broadcast is published to the
                        # conversation's group (here only this socket, which skips its own echo).
                        while True:
                            frame = json.loads(await ws.recv())
                            if frame["type"] == "error":
                                ok = False
                                if time.monotonic() >= measure_from:
                                    errors += 1
                                    error_codes[frame.get("code", "?")] = error_codes.get(frame.get("code", "?"), 0) + 1
                                break
                            if frame["type"] == "ack" and frame["client_id"] == client_id:
                                break
                    if ok and time.monotonic() - (time.perf_counter() - started) >= measure_from:
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
        "error_codes": error_codes,
    }


async def hold_idle(urls: list[str], origin: str, server_pids: list[int]) -> dict:
    import psutil
    import websockets

    processes = [psutil.Process(pid) for pid in server_pids]

    def rss() -> int:  # the web processes only: the redaction workers hold no sockets
        return sum(p.memory_info().rss for p in processes)

    rss_before = rss()
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
    rss_held = rss()
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


def listening_socket(port: int) -> socket.socket:
    """One listening socket for every web process, as the supervisor binds it; the kernel spreads
    the connections among the processes accepting on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def service_pids() -> list[int]:
    """Postgres (postmaster and backends) and Redis of this benchmark, for their CPU share."""
    import psutil
    from django.conf import settings

    data_dir = os.environ["SUPPORTBOT_DATA_DIR"]
    redis_url = settings.REDIS_URL
    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if ("postgres" in cmdline and f"{data_dir}/postgres" in cmdline) or (
            "redis-server" in cmdline and redis_url.removeprefix("unix://").split("?")[0] in cmdline
        ):
            pids.append(process.info["pid"])
            pids += [child.pid for child in process.children(recursive=True)]
    return pids


def cpu_seconds(pids: list[int], *, with_children: bool) -> float:
    import psutil

    total, seen = 0.0, set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
            family = [process, *process.children(recursive=True)] if with_children else [process]
            for member in family:
                if member.pid not in seen:
                    seen.add(member.pid)
                    times = member.cpu_times()
                    total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def measured(
    kind: str, urls: list[str], origin: str, duration: float, server_pids: list[int], interval: float = 0.0
) -> dict:
    """One phase, with the CPU it cost the web processes (and their redaction workers) and the
    database and Redis, per successful round trip."""
    services = service_pids()
    web_before, own_before, services_before = (
        cpu_seconds(server_pids, with_children=True),
        cpu_seconds(server_pids, with_children=False),
        cpu_seconds(services, with_children=False),
    )
    client_before = time.process_time()
    result = asyncio.run(run_clients(kind, urls, origin, duration, interval))
    client = time.process_time() - client_before  # this process: the benchmark's own clients
    web = cpu_seconds(server_pids, with_children=True) - web_before
    own = cpu_seconds(server_pids, with_children=False) - own_before
    services_cpu = cpu_seconds(services, with_children=False) - services_before
    trips = max(1, result["round_trips"])
    result["web_cpu_ms_per_round_trip"] = round(web * 1000 / trips, 2)
    # The same split in two: the web processes themselves, and their model (redaction) workers.
    result["web_own_cpu_ms_per_round_trip"] = round(own * 1000 / trips, 2)
    result["workers_cpu_ms_per_round_trip"] = round((web - own) * 1000 / trips, 2)
    result["services_cpu_ms_per_round_trip"] = round(services_cpu * 1000 / trips, 2)
    result["client_cpu_ms_per_round_trip"] = round(client * 1000 / trips, 2)
    return result


def wait_until_idle(servers: list[subprocess.Popen], *, seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(server.poll() is not None for server in servers):
            raise RuntimeError("a web process exited while starting")
        before = [cpu_seconds([s.pid], with_children=True) for s in servers]
        time.sleep(2)
        if all(cpu_seconds([s.pid], with_children=True) - b < 0.2 for s, b in zip(servers, before)):
            return
    raise RuntimeError(f"the web processes were still busy after {seconds} s")


def start_web_processes(count: int, sock: socket.socket, env: dict) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "--fd",
                str(sock.fileno()),
                "--access-log",
                os.devnull,
                "supportbot.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            pass_fds=(sock.fileno(),),
        )
        for _ in range(count)
    ]


def stop_web_processes(servers: list[subprocess.Popen]) -> None:
    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def summarize(runs: list[dict]) -> dict:
    keys = (
        "round_trips_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "web_cpu_ms_per_round_trip",
        "web_own_cpu_ms_per_round_trip",
        "workers_cpu_ms_per_round_trip",
        "services_cpu_ms_per_round_trip",
        "client_cpu_ms_per_round_trip",
    )
    return {**{k: round(median_of(runs, k), 2) for k in keys}, "errors": sum(r["errors"] for r in runs), "runs": runs}


def run_configuration(
    *, processes: int, args: argparse.Namespace, env: dict, origin: str, sessions: list, idle: bool
) -> dict:
    import psutil

    sock = listening_socket(args.port)
    servers = start_web_processes(processes, sock, env)
    try:
        pids = [server.pid for server in servers]
        wait_for_healthz(origin, seconds=900, process=servers[0])
        # Whichever process is ready answers /healthz on the shared socket; the others may still
        # be loading their models. Loaded, a process idles.
        wait_until_idle(servers)
        base = f"ws://127.0.0.1:{args.port}"
        echo_urls = [f"{base}/ws/echo/"] * args.clients
        chat_urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions[: args.clients]]
        idle_urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions[args.clients :]]

        asyncio.run(run_clients("echo", echo_urls, origin, 2.0))  # warm-up: imports, pools, JIT-free caches
        asyncio.run(run_clients("chat", chat_urls, origin, 2.0))
        echo_runs, chat_runs = [], []
        for round_number in range(args.rounds):
            echo_runs.append(measured("echo", echo_urls, origin, args.duration, pids))
            chat_runs.append(measured("chat", chat_urls, origin, args.duration, pids))
            print(
                f"{processes} process(es), round {round_number + 1}: echo {echo_runs[-1]['round_trips_per_s']:.0f}/s, "
                f"chat {chat_runs[-1]['round_trips_per_s']:.0f}/s (p95 {chat_runs[-1]['p95_ms']:.1f} ms, "
                f"{chat_runs[-1]['web_cpu_ms_per_round_trip']} ms web CPU per message "
                f"({chat_runs[-1]['web_own_cpu_ms_per_round_trip']} web processes + "
                f"{chat_runs[-1]['workers_cpu_ms_per_round_trip']} workers), "
                f"{chat_runs[-1]['errors']} errors) load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        paced = None
        if args.paced_interval:
            paced = {
                "interval_s": args.paced_interval,
                "echo": measured("echo", echo_urls, origin, args.duration, pids, args.paced_interval),
                "chat": measured("chat", chat_urls, origin, args.duration, pids, args.paced_interval),
            }
        rss_after_load = sum(psutil.Process(pid).memory_info().rss for pid in pids)
        workers_rss = sum(c.memory_info().rss for pid in pids for c in psutil.Process(pid).children(recursive=True))
        idle_result = asyncio.run(hold_idle(idle_urls, origin, pids)) if idle and args.idle else None
    finally:
        stop_web_processes(servers)
        sock.close()
    chat, echo = summarize(chat_runs), summarize(echo_runs)
    return {
        "web_processes": processes,
        "chat": chat,
        "echo_baseline": echo,
        "ratio_chat_to_echo": round(chat["round_trips_per_s"] / max(echo["round_trips_per_s"], 1e-9), 3),
        "paced": paced,
        "web_rss_after_load_mb": round(rss_after_load / 2**20, 1),
        "redaction_workers_rss_mb": round(workers_rss / 2**20, 1),
        "idle": idle_result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2", help="web process counts to measure, comma-separated")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=2000, help="idle sockets held by the first configuration (0 skips)")
    parser.add_argument(
        "--paced-interval",
        type=float,
        default=1.0,
        help="seconds between messages per client in the paced phase (0 skips it)",
    )
    parser.add_argument(
        "--redaction-processes",
        type=int,
        default=None,
        help="PII_REDACTION_PROCESSES for the web processes (default: the project's)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "chat_transport.json")
    args = parser.parse_args()
    process_counts = [int(n) for n in args.processes.split(",") if n.strip()]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle * 2 + 1024)), hard))

    setup_django()
    origin = f"http://127.0.0.1:{args.port}"
    sessions = make_sessions(args.clients + args.idle, origin)
    from django.db import connections

    connections.close_all()

    # Every limit off: this measures the transport, not the abuse limits (which answer at once
    # with an error frame and would inflate the figures).
    env = dict(
        os.environ,
        BENCHMARK_ECHO_ENDPOINT="true",
        CHAT_RATE_BURST="1000000",
        CHAT_RATE_PER_SECOND="1000000",
        LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000000",
        LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE="1000000",
        CHAT_MAX_SOCKETS_PER_IP="1000000",
        DJANGO_SETTINGS_MODULE="supportbot.settings.base",
        LOG_LEVEL="WARNING",
    )
    if args.redaction_processes is not None:
        env["PII_REDACTION_PROCESSES"] = str(args.redaction_processes)
    load_before = os.getloadavg()
    configurations = [
        run_configuration(processes=n, args=args, env=env, origin=origin, sessions=sessions, idle=(i == 0))
        for i, n in enumerate(process_counts)
    ]
    result = {
        "benchmark": "chat_transport",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "clients": args.clients,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "redaction_processes": args.redaction_processes,
        "configurations": configurations,
        "targets": {
            "chat_round_trips_per_s_at_least": 250,
            "errors": 0,
            "idle_connections": 2000,
            "idle_rss_mb_at_most": 1024,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))

    def brief(config: dict) -> dict:
        return {
            **{k: v for k, v in config.items() if k not in ("chat", "echo_baseline", "paced")},
            "chat": {k: v for k, v in config["chat"].items() if k != "runs"},
            "echo_baseline": {k: v for k, v in config["echo_baseline"].items() if k != "runs"},
        }

    print(
        json.dumps(
            {
                **{k: v for k, v in result.items() if k != "configurations"},
                "configurations": [brief(c) for c in configurations],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
