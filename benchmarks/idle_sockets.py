"""Idle chat sockets benchmark (not a test): what one web process pays per open widget socket.

Starts one Daphne process as `make run` starts each web process (models preloaded, real
Postgres+pgvector and Redis: embedded in .data/bench unless DATABASE_URL/REDIS_URL are set), then
opens --sockets chat sockets from --clients client processes (one event loop holds a few thousand
sockets well; ten thousand would make the clients, not the server, the bottleneck). Each socket
does what an idle widget does: opens with its token, sends `resume`, waits for its `status`
frame, then stays silent. RLIMIT_NOFILE is raised for the server and the clients.

Reported: the server's RSS (and USS) before and with the sockets held, KB per socket, errors, and
whether sockets still answer (a `resume` on a sample of them after the hold); its open file
descriptors and its Redis connections (CLIENT LIST, by the client name its REDIS_URL gives them)
before and with the sockets held, and the "Too many open files" lines in its log: an idle socket
must cost one descriptor (its own) and no Redis connection. Target: 10,000 sockets per web
process under 1 GB RSS in total. JSON to benchmarks/results/idle_sockets.json.

--app-root runs the server from another checkout (e.g. `git archive` of a base commit), with this
benchmark's own clients and measurements, for a before/after in the same run.

With --trace N the server runs under tracemalloc (started after warm-up, so only memory
allocated for the sockets is traced) for a separate run of N sockets, and the largest
allocation sites still alive, per socket, are reported: what each socket holds.

    .venv/bin/python benchmarks/idle_sockets.py [--sockets 10000] [--clients 4] [--trace 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_transport import make_sessions, setup_django, wait_for_healthz  # noqa: E402
from benchmarks.open_loop import free_port  # noqa: E402

TRACE_START_SIGNAL = signal.SIGUSR1
TRACE_DUMP_SIGNAL = signal.SIGUSR2
# Every Redis connection the server opens carries this name (redis-py's client_name URL option).
SERVER_REDIS_NAME = "idle-sockets-web"


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted > hard:
        raise SystemExit(
            f"RLIMIT_NOFILE hard limit is {hard}; {wanted} descriptors are needed (use more --clients "
            f"or raise the limit)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))


# --- the server under tracemalloc -------------------------------------------------------------


def serve_traced(port: int, dump_path: Path, connect_timeout: int) -> None:
    """Daphne with two signal handlers: start tracing; dump a snapshot. Python runs them on the
    main thread, which is the reactor's, between bytecodes: no sockets are touched meanwhile."""
    import tracemalloc

    def start(_signum: int, _frame: object) -> None:
        tracemalloc.start(12)

    def dump(_signum: int, _frame: object) -> None:
        import gc

        gc.collect()
        tracemalloc.take_snapshot().dump(str(dump_path))
        dump_path.with_suffix(".done").write_text("1")

    signal.signal(TRACE_START_SIGNAL, start)
    signal.signal(TRACE_DUMP_SIGNAL, dump)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(
        [
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--access-log",
            os.devnull,
            "--websocket_connect_timeout",
            str(connect_timeout),
            "supportbot.asgi:application",
        ]
    )


def trace_report(dump_path: Path, sockets: int, top: int) -> dict:
    import tracemalloc

    snapshot = tracemalloc.Snapshot.load(str(dump_path)).filter_traces(
        [
            tracemalloc.Filter(False, tracemalloc.__file__),
        ]
    )
    total = sum(stat.size for stat in snapshot.statistics("filename"))

    def rows(key_type: str) -> list[dict]:
        out = []
        for stat in snapshot.statistics(key_type)[:top]:
            frame = stat.traceback[0]
            where = _short(frame.filename) if key_type == "filename" else f"{_short(frame.filename)}:{frame.lineno}"
            out.append(
                {
                    "where": where,
                    "bytes_per_socket": round(stat.size / sockets),
                    "blocks_per_socket": round(stat.count / sockets, 2),
                }
            )
        return out

    # Each allocation charged to the nearest frame of our own code that led to it: the consumer
    # state or call that keeps the memory alive.
    ours: dict[str, int] = {}
    for stat in snapshot.statistics("traceback"):
        frames = [
            f
            for f in stat.traceback
            if "site-packages" not in f.filename and "/lib/python" not in f.filename and "benchmarks/" not in f.filename
        ]
        # Tracebacks run oldest to newest: the last of our frames is the nearest caller.
        key = f"{_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else "(library code only)"
        ours[key] = ours.get(key, 0) + stat.size
    return {
        "sockets": sockets,
        "traced_bytes_per_socket": round(total / sockets),
        "by_file": rows("filename"),
        "by_line": rows("lineno"),
        "by_our_calling_line": [
            {"where": k, "bytes_per_socket": round(v / sockets)}
            for k, v in sorted(ours.items(), key=lambda kv: -kv[1])[:top]
        ],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- what the server holds -------------------------------------------------------------------


def named_redis_url(url: str, name: str) -> str:
    return url + ("&" if "?" in url else "?") + f"client_name={name}"


def server_redis_connections(redis_url: str) -> dict:
    """The server's connections as Redis lists them, counted by their last command (a Pub/Sub
    subscription, a pool's EVAL or GET, Celery's BRPOP...)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        own = [entry for entry in client.client_list() if entry.get("name") == SERVER_REDIS_NAME]
    finally:
        client.close()
    by_command: dict[str, int] = {}
    for entry in own:
        by_command[entry["cmd"]] = by_command.get(entry["cmd"], 0) + 1
    return {"count": len(own), "by_last_command": dict(sorted(by_command.items(), key=lambda kv: -kv[1]))}


def server_holdings(server_pid: int, redis_url: str) -> dict:
    import psutil

    return {
        "open_descriptors": psutil.Process(server_pid).num_fds(),
        "redis_connections": server_redis_connections(redis_url),
    }


# --- the clients ------------------------------------------------------------------------------


def client_process(urls: list[str], origin: str, conn, probes: int, concurrency: int) -> None:  # noqa: ANN001
    """Open every socket, report, hold until told, probe a few, close."""
    raise_nofile(len(urls) + 256)
    asyncio.run(_client_main(urls, origin, conn, probes, concurrency))


async def _client_main(urls: list[str], origin: str, conn, probes: int, concurrency: int) -> None:  # noqa: ANN001
    import websockets

    sockets = []
    errors: dict[str, int] = {}
    # Open in waves: a connect storm is a different benchmark, and Daphne drops a handshake the
    # application has not accepted within 5 s (each connect checks the token and takes a lease).
    semaphore = asyncio.Semaphore(concurrency)

    async def open_one(url: str) -> None:
        async with semaphore:
            try:
                ws = await websockets.connect(url, origin=origin, open_timeout=120, ping_interval=None, max_size=2**20)
                await ws.send(json.dumps({"type": "resume", "after_seq": 0}))
                while json.loads(await asyncio.wait_for(ws.recv(), 120))["type"] != "status":
                    pass
                sockets.append(ws)
            except Exception as error:
                kind = type(error).__name__
                errors[kind] = errors.get(kind, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(open_one(url) for url in urls))
    conn.send({"open": len(sockets), "errors": errors, "open_seconds": round(time.monotonic() - started, 1)})
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # hold until the parent has measured
    ok = 0
    for ws in sockets[-probes:]:
        try:
            await ws.send(json.dumps({"type": "resume", "after_seq": 0}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "resumed":
                pass
            ok += 1
        except Exception:
            pass
    closed_at_probe = sum(1 for ws in sockets if ws.close_code is not None)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    conn.send({"probed": min(probes, len(sockets)), "probe_ok": ok, "closed_by_server": closed_at_probe})


def hold(
    urls: list[str],
    origin: str,
    clients: int,
    server_pid: int,
    *,
    settle: float,
    probes: int,
    concurrency: int = 24,
    before_measure=None,
    redis_url: str,
    log: Path | None = None,
) -> dict:  # noqa: ANN001 - an optional callback
    import psutil

    server = psutil.Process(server_pid)
    holdings_before = server_holdings(server_pid, redis_url)
    context = multiprocessing.get_context("spawn")
    chunks = [urls[i::clients] for i in range(clients)]
    pipes, processes = [], []
    memory_before = server.memory_full_info()
    for chunk in chunks:
        parent, child = context.Pipe()
        process = context.Process(
            target=client_process, daemon=True, args=(chunk, origin, child, probes, max(1, concurrency // clients))
        )
        process.start()
        pipes.append(parent)
        processes.append(process)
    opened = [pipe.recv() for pipe in pipes]
    time.sleep(settle)  # let lazily allocated state (first lease renewals, pings) happen
    if before_measure is not None:
        before_measure()
    memory_held = server.memory_full_info()
    holdings_held = server_holdings(server_pid, redis_url)
    log_held = log_errors(log) if log is not None else None
    for pipe in pipes:
        pipe.send("probe")
    probed = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join(60)
    open_count = sum(o["open"] for o in opened)
    errors: dict[str, int] = {}
    for o in opened:
        for kind, n in o["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    return {
        "sockets_requested": len(urls),
        "sockets_open": open_count,
        "errors": errors,
        "open_seconds_max": max(o["open_seconds"] for o in opened),
        "server_rss_before_mb": round(memory_before.rss / 2**20, 1),
        "server_rss_held_mb": round(memory_held.rss / 2**20, 1),
        "server_uss_held_mb": round(memory_held.uss / 2**20, 1),
        "rss_kb_per_socket": round((memory_held.rss - memory_before.rss) / max(1, open_count) / 1024, 1),
        "uss_kb_per_socket": round((memory_held.uss - memory_before.uss) / max(1, open_count) / 1024, 1),
        "probed": sum(p["probed"] for p in probed),
        "probe_ok": sum(p["probe_ok"] for p in probed),
        "closed_by_server_during_hold": sum(p["closed_by_server"] for p in probed),
        "server_before": holdings_before,
        "server_held": holdings_held,
        "server_log_while_held": log_held,
        "descriptors_per_socket": round(
            (holdings_held["open_descriptors"] - holdings_before["open_descriptors"]) / max(1, open_count), 2
        ),
        "redis_connections_per_socket": round(
            (holdings_held["redis_connections"]["count"] - holdings_before["redis_connections"]["count"])
            / max(1, open_count),
            3,
        ),
    }


def start_server(
    port: int, env: dict, *, traced: Path | None, connect_timeout: int, app_root: Path, log: Path
) -> subprocess.Popen:
    if traced is None:
        argv = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--access-log",
            os.devnull,
            "--websocket_connect_timeout",
            str(connect_timeout),
            "supportbot.asgi:application",
        ]
    else:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-traced",
            str(port),
            "--dump",
            str(traced),
            "--connect-timeout",
            str(connect_timeout),
            "--app-root",
            str(app_root),
        ]
    env = dict(env, PYTHONPATH=os.pathsep.join([str(app_root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(argv, cwd=app_root, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def log_errors(log: Path) -> dict:
    text = log.read_text(errors="replace") if log.exists() else ""
    return {"too_many_open_files": text.count("Too many open files"), "tracebacks": text.count("Traceback")}


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def warm_up(urls: list[str], origin: str, server_pid: int, redis_url: str) -> None:
    """First sockets pay for imports, pools and caches; those are not per-socket costs."""
    hold(urls, origin, 1, server_pid, settle=0, probes=1, concurrency=8, redis_url=redis_url)


def write_result(output: Path, held: dict | None, traced: dict | None, app_root: Path) -> None:
    """Written after the plain run and again after the traced one: a long trace that is
    interrupted keeps the plain figures."""
    result = {
        "benchmark": "idle_sockets",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_1m": os.getloadavg()[0]},
        "app_root": str(app_root),
        "limits_raised": ["CHAT_MAX_SOCKETS_PER_IP", "CHAT_RATE_BURST", "CHAT_RATE_PER_SECOND"],
        "held": held,
        "tracemalloc": traced,
        "target": {"sockets": 10_000, "server_rss_mb_at_most": 1024},
        "meets_target": bool(
            held
            and held["sockets_open"] >= 10_000
            and held["server_rss_held_mb"] <= 1024
            and not held["errors"]
            and held["probe_ok"] == held["probed"]
            and not held["server_log_while_held"]["too_many_open_files"]
        ),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="client processes sharing the sockets")
    parser.add_argument(
        "--settle",
        type=float,
        default=40.0,
        help="seconds to hold before measuring (past the first lease renewal at 30 s)",
    )
    parser.add_argument("--trace", type=int, default=0, help="also a tracemalloc run with this many sockets (0: none)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=24, help="handshakes in flight, over all clients")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "idle_sockets.json")
    parser.add_argument(
        "--connect-timeout",
        type=int,
        default=60,
        help="Daphne's websocket handshake timeout (its default, 5 s, drops handshakes on a busy "
        "machine; this benchmark measures memory, not connect speed)",
    )
    parser.add_argument(
        "--app-root", type=Path, default=ROOT, help="run the server from this checkout (default: this one)"
    )
    parser.add_argument("--serve-traced", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_traced:
        sys.path.insert(0, str(args.app_root.resolve()))  # before ROOT, which this file put first
        serve_traced(args.serve_traced, args.dump, args.connect_timeout)
        return 0

    raise_nofile(max(args.sockets, args.trace) + 1024)  # the server inherits it
    setup_django()
    warm = 100
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    sessions = make_sessions(warm + args.sockets + args.trace, origin)
    from django.db import connections

    connections.close_all()
    base = f"ws://127.0.0.1:{port}"
    urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions]
    redis_url = os.environ["REDIS_URL"]  # set by the settings when they started the embedded Redis
    app_root = args.app_root.resolve()
    logs = ROOT / ".data" / "bench"
    env = dict(
        os.environ,
        REDIS_URL=named_redis_url(redis_url, SERVER_REDIS_NAME),
        DJANGO_SETTINGS_MODULE="supportbot.settings.base",
        LOG_LEVEL="WARNING",
        CHAT_MAX_SOCKETS_PER_IP="1000000",
        CHAT_RATE_BURST="1000000",
        CHAT_RATE_PER_SECOND="1000000",
    )
    print(
        "limits raised for the run: CHAT_MAX_SOCKETS_PER_IP, CHAT_RATE_BURST, CHAT_RATE_PER_SECOND = 1000000 "
        f"(every socket comes from 127.0.0.1); RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}"
    )

    held = None
    if args.sockets:
        log = logs / "idle_sockets_server.log"
        server = start_server(port, env, traced=None, connect_timeout=args.connect_timeout, app_root=app_root, log=log)
        try:
            wait_for_healthz(f"http://127.0.0.1:{port}", seconds=240)
            warm_up(urls[:warm], origin, server.pid, redis_url)
            held = hold(
                urls[warm : warm + args.sockets],
                origin,
                args.clients,
                server.pid,
                settle=args.settle,
                probes=20,
                concurrency=args.concurrency,
                redis_url=redis_url,
                log=log,
            )
            # After the probes and every client closing at once (a teardown, not the hold).
            held["server_log_after_close"] = log_errors(log)
            print(json.dumps(held, indent=1), flush=True)
            write_result(args.output, held, None, app_root)
        finally:
            stop_server(server)

    traced = None
    if args.trace:
        dump = ROOT / ".data" / "bench" / "idle_sockets.tracemalloc"
        dump.parent.mkdir(parents=True, exist_ok=True)
        dump.unlink(missing_ok=True)
        dump.with_suffix(".done").unlink(missing_ok=True)
        port = free_port()
        origin2 = f"http://127.0.0.1:{port}"
        from conversations.models import WidgetSite

        site = WidgetSite.objects.get(key="bench-site")
        site.allowed_origins = [*site.allowed_origins, origin2]
        site.save(update_fields=["allowed_origins"])
        connections.close_all()
        trace_urls = [u.replace(base, f"ws://127.0.0.1:{port}") for u in urls[:warm] + urls[warm + args.sockets :]]
        server = start_server(
            port,
            env,
            traced=dump,
            connect_timeout=args.connect_timeout,
            app_root=app_root,
            log=logs / "idle_sockets_traced_server.log",
        )
        try:
            wait_for_healthz(origin2, seconds=240)
            warm_up(trace_urls[:warm], origin2, server.pid, redis_url)
            os.kill(server.pid, TRACE_START_SIGNAL)
            time.sleep(1)

            def snapshot() -> None:
                os.kill(server.pid, TRACE_DUMP_SIGNAL)
                deadline = time.monotonic() + 300
                while not dump.with_suffix(".done").exists() and time.monotonic() < deadline:
                    time.sleep(0.5)

            traced_hold = hold(
                trace_urls[warm:],
                origin2,
                args.clients,
                server.pid,
                settle=args.settle,
                probes=5,
                concurrency=max(args.clients, args.concurrency // 3),
                before_measure=snapshot,
                redis_url=redis_url,
            )
            print(json.dumps(traced_hold, indent=1), flush=True)
        finally:
            stop_server(server)
        if not traced_hold["sockets_open"]:
            raise SystemExit("the traced run opened no socket: nothing to attribute")
        traced = {"hold": traced_hold, **trace_report(dump, traced_hold["sockets_open"], args.top)}
        print(json.dumps(traced, indent=1), flush=True)

    write_result(args.output, held, traced, app_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
