"""Open-loop bot benchmark (not a test): how many live conversations the app carries.

The app runs as `make run` runs it (`python -m supportbot.runtime`: Daphne, a Celery worker and
beat, supervised; WEB_PROCESSES is passed through, so a runtime that starts several Daphne
processes is measured as it runs), on the real stack (embedded Postgres+pgvector and Redis in
.data/bench unless DATABASE_URL/REDIS_URL are set), against the fake OpenAI-compatible model
(tests/fakes/model_server.py, in its own process) answering after --ttft seconds with 30 words.

Each of N conversations is a real widget session: `POST /api/widget/conversations`, then the
socket with an `auth` and a `resume` frame, as the widget does. Once every socket is open (the
time that took is `connect_s`; --send-while-connecting starts each customer as soon as its own
socket is open instead, the connection burst inside the round), each customer sends a message
every 15-30 s (uniform random; the first at a random offset), whatever the server is doing (open
loop: a slow server does not slow the customers down). CPU and the round's clock start then. Per message the client measures the time
to the first `delta` frame and to the bot's stored `message`. In the same run a probe calls the
fake model directly, with the request body the app last sent it, every second; its median time to
first content and to `[DONE]` is the model's own latency, and

    added to first delta = measured first delta - the probe's time to first content
    added to final       = measured bot message - the probe's time to [DONE]

Errors: error frames, a bot message without any delta, no answer within --answer-timeout, a
failed session or socket. They are counted as errors and never as answered turns. Bot messages
carry no link to the customer message they answer, so an answer that arrives after its 30 s
(already counted as an error) is taken as the answer to that customer's next message: under
overload the latencies are then understated, never overstated.
CPU: user+system time of the web processes, their model workers and the Celery worker (psutil, the runtime's
descendants), over the round, divided by the messages sent and by the answers received.

Abuse limits (sockets, conversations and messages per IP, frame rates, token budgets) are
raised for the run through their environment variables: every customer comes from 127.0.0.1.
The output lists them. Rounds per size: --rounds (3; medians are reported). JSON goes to
benchmarks/results/open_loop.json.

--trace FILE: the web processes record every bot turn's stage times there (BOT_TURN_TRACE_PATH,
supportbot/runtime/trace.py), and each round reports where its slowest 5% of answers spent their
time against the middle band (benchmarks/open_loop_trace.py). It costs some CPU: measure without it.

    .venv/bin/python benchmarks/open_loop.py [--conversations 50,150,300] [--duration 125]
        [--rounds 3] [--web-processes 2] [--trace .data/bench/trace.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bot_turn import ANSWER_WORDS, QUESTIONS, demo_articles_indexed  # noqa: E402
from benchmarks.chat_transport import percentile, setup_django  # noqa: E402
from benchmarks.open_loop_trace import trace_lines, trace_report  # noqa: E402

SITE_KEY = "bench-open-loop"
RAISED_LIMITS = {
    "CHAT_MAX_SOCKETS_PER_IP": "1000000",
    "CHAT_RATE_BURST": "1000000",
    "CHAT_RATE_PER_SECOND": "1000000",
    "LIMIT_MESSAGES_PER_IP_PER_MINUTE": "1000000",
    "LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE": "1000000",
    "LIMIT_CONVERSATIONS_PER_IP_PER_HOUR": "1000000",
    "LIMIT_ABUSE_STRIKES": "1000000",
    "LLM_DAILY_TOKENS_PER_SITE": "1000000000",
    "LLM_DAILY_TOKENS_PER_CONVERSATION": "100000000",
}


# --- the fake model, in a process of its own ------------------------------------------------


def model_process(conn, ttft: float, token_interval: float) -> None:  # noqa: ANN001 - a multiprocessing Connection
    """Serve the fake model until told to stop; answer 'last' with the newest streamed chat body.
    A process of its own so its threads do not share a GIL with the benchmark's clients."""
    from tests.fakes.model_server import FakeModelServer, Reply

    answer = " ".join(f"word{n}" for n in range(ANSWER_WORDS))
    model = FakeModelServer().start()
    model.default_reply = lambda body: Reply(text=answer, delay_seconds=ttft, seconds_per_token=token_interval)
    conn.send(model.base_url)
    while True:
        command = conn.recv()
        if command == "stop":
            break
        if command == "last":
            streamed = [body for body in model.chat_requests() if body.get("stream")]
            conn.send((streamed[-1] if streamed else None, len(model.chat_requests()), len(streamed)))
    model.stop()


class ModelHandle:
    def __init__(self, ttft: float, token_interval: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=model_process, args=(child, ttft, token_interval), daemon=True)
        self.process.start()
        self.base_url: str = self._conn.recv()

    def last_request(self) -> tuple[dict | None, int, int]:
        """The newest streamed chat body, the number of chat calls and of streamed ones so far."""
        self._conn.send("last")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self.process.join(10)


async def model_probe(base_url: str, body: dict, stop: asyncio.Event, samples: dict) -> None:
    """Call the model directly, as the app does (same body, streamed), once a second."""
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            first = None
            try:
                async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: {") and first is None:
                            choices = json.loads(line[6:]).get("choices") or [{}]
                            if (choices[0].get("delta") or {}).get("content"):
                                first = time.perf_counter()
                        if line == "data: [DONE]":
                            break
                if first is not None:
                    samples["first"].append(first - started)
                    samples["total"].append(time.perf_counter() - started)
            except httpx.HTTPError as error:
                print(f"  model probe failed: {error!r}", file=sys.stderr)
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass


# --- the app, as `make run` starts it -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(base: str, runtime: subprocess.Popen, seconds: float) -> None:
    """Until /healthz answers 200: Daphne up, the worker answering, models loaded."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if runtime.poll() is not None:
            raise RuntimeError(f"the runtime exited with code {runtime.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=10):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise RuntimeError(f"{base}/healthz not healthy after {seconds:.0f}s")


def app_processes(runtime_pid: int) -> dict[str, list]:
    """The runtime's descendants by role, read from their command lines."""
    import psutil

    groups: dict[str, list] = {"web": [], "worker": [], "model_workers": [], "beat": [], "other": []}
    for child in psutil.Process(runtime_pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "daphne" in line or "supportbot.asgi" in line:
            groups["web"].append(child)
        elif "celery" in line and " worker" in line:
            groups["worker"].append(child)
        elif "celery" in line and " beat" in line:
            groups["beat"].append(child)
        elif "multiprocessing.spawn" in line:
            # a web process's model workers (supportbot/llm/workers.py): redaction, embedding
            groups["model_workers"].append(child)
        else:
            groups["other"].append(child)
    return groups


def sockets_per_process(processes: list, port: int) -> list[int]:
    """Established connections on the web port, per web process."""
    import psutil

    counts = []
    for process in processes:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        counts.append(sum(1 for c in connections if c.laddr and c.laddr.port == port and c.status == "ESTABLISHED"))
    return counts


def cpu_seconds(processes: list) -> dict[int, float]:
    import psutil

    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.Error:
            pass
    return seconds


def settle(runtime_pid: int, *, quiet_cores: float = 0.15, window: float = 3.0, limit: float = 180.0) -> None:
    """Until the app idles: a healthy worker may still be loading models in its pool children,
    CPU that belongs to no message."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        processes = app_processes(runtime_pid)
        measured = processes["web"] + processes["worker"] + processes["model_workers"]
        before = cpu_seconds(measured)
        time.sleep(window)
        after = cpu_seconds(measured)
        busy = sum(after[pid] - before[pid] for pid in before if pid in after) / window
        if busy < quiet_cores:
            return
    print(f"  the app never idled below {quiet_cores} cores for {window:.0f}s; measuring anyway", file=sys.stderr)


# --- the customers --------------------------------------------------------------------------


@dataclass
class RoundStats:
    first_ms: list[float] = field(default_factory=list)  # measured, before subtracting the model
    final_ms: list[float] = field(default_factory=list)
    sent: int = 0
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    late_sends: int = 0  # a send due while the previous answer was still awaited
    # --trace: per message (public_id, sent, first delta, final, outcome), wall-clock seconds
    messages: list[tuple[str, float, float | None, float | None, str]] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def open_sessions(base: str, origin: str, count: int) -> list[tuple[str, str]]:
    """Real widget sessions through the HTTP endpoint; (socket_url, token) each."""
    import httpx

    semaphore = asyncio.Semaphore(16)

    async with httpx.AsyncClient(timeout=60) as client:

        async def one() -> tuple[str, str]:
            async with semaphore:
                response = await client.post(
                    f"{base}/api/widget/conversations", json={"site_key": SITE_KEY}, headers={"Origin": origin}
                )
                response.raise_for_status()
                payload = response.json()
                return payload["socket_url"], payload["token"]

        return await asyncio.gather(*(one() for _ in range(count)))


async def customer(
    socket_url: str,
    token: str,
    origin: str,
    *,
    first_question: int,
    opening: Opening,
    duration: float,
    interval: tuple[float, float],
    answer_timeout: float,
    stats: RoundStats,
) -> None:
    import websockets

    opened = False
    try:
        async with websockets.connect(socket_url, origin=origin, max_size=2**20, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.send(json.dumps({"type": "resume", "after_seq": 0}))
            while json.loads(await asyncio.wait_for(ws.recv(), answer_timeout))["type"] != "status":
                pass
            opened = True
            started = await opening.open()
            stop_at = started + duration
            next_send = started + random.uniform(0, random.uniform(*interval))
            n = first_question
            while next_send < stop_at:
                await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                sent = time.perf_counter()
                sent_wall = time.time()
                stats.sent += 1
                await ws.send(
                    json.dumps(
                        {"type": "message", "client_id": str(uuid.uuid4()), "text": QUESTIONS[n % len(QUESTIONS)]}
                    )
                )
                n += 1
                first = None
                deadline = time.monotonic() + answer_timeout
                outcome = "no_answer"
                while (remaining := deadline - time.monotonic()) > 0:
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                    except TimeoutError:
                        break
                    if frame["type"] == "error":
                        outcome = f"error_frame:{frame.get('code')}"
                        break
                    if frame["type"] == "delta" and first is None:
                        first = time.perf_counter()
                    if frame["type"] == "message" and frame.get("role") == "bot":
                        outcome = "answered" if first is not None else "answer_without_stream"
                        break
                    if frame["type"] == "message" and frame.get("role") == "system":
                        outcome = "system_message"  # a handoff or a failed turn: not a bot answer
                        break
                public_id = socket_url.rstrip("/").rsplit("/", 1)[-1]
                done_wall = time.time()
                stats.messages.append(
                    (
                        public_id,
                        sent_wall,
                        sent_wall + (first - sent) if first is not None else None,
                        done_wall if outcome != "no_answer" else None,
                        outcome,
                    )
                )
                if outcome == "answered":
                    stats.answered += 1
                    stats.first_ms.append((first - sent) * 1000)
                    stats.final_ms.append((time.perf_counter() - sent) * 1000)
                else:
                    stats.error(outcome)
                next_send += random.uniform(*interval)
                if next_send < time.monotonic():
                    stats.late_sends += 1
    except Exception as error:  # counted, reported: one broken socket must not end the run
        stats.error(f"socket:{type(error).__name__}")
    finally:
        if not opened:
            opening.gone()  # failed before it opened: nobody waits for it


class Opening:
    """When the customers start sending. By default once every socket is open (or has failed):
    the round measures N concurrent conversations, not N sockets connecting while the first
    messages arrive (that burst is what a restart causes; `connect_s` says how long it took).
    With `wait=False` (--send-while-connecting) each customer starts as soon as its own socket is
    open, on the clock of the round's start, as this benchmark did before 2026-12-02."""

    def __init__(self, customers: int, *, wait: bool) -> None:
        self.waiting_for, self.wait = customers, wait
        self.began = time.monotonic()
        self.started: float | None = None if wait else self.began
        self.all_open = asyncio.Event()

    def _count(self) -> None:
        self.waiting_for -= 1
        if self.waiting_for == 0:
            self.started = self.started or time.monotonic()
            self.all_open.set()

    async def open(self) -> float:
        """Called once per customer whose socket opened: when to start sending."""
        self._count()
        if self.wait:
            await self.all_open.wait()
        assert self.started is not None
        return self.started

    def gone(self) -> None:
        """Called once per customer whose socket failed before it opened."""
        self._count()


async def run_round(
    base: str,
    origin: str,
    model: ModelHandle,
    probe_body: dict,
    *,
    conversations: int,
    duration: float,
    interval: tuple[float, float],
    answer_timeout: float,
    runtime_pid: int,
    trace_path: Path | None = None,
    send_while_connecting: bool = False,
) -> dict:
    sessions = await open_sessions(base, origin, conversations)
    processes = app_processes(runtime_pid)
    measured = processes["web"] + processes["worker"] + processes["model_workers"]
    stats = RoundStats()
    probe = {"first": [], "total": []}
    stop = asyncio.Event()
    probe_task = asyncio.create_task(model_probe(model.base_url, probe_body, stop, probe))
    opening = Opening(len(sessions), wait=not send_while_connecting)
    customers = asyncio.gather(
        *(
            customer(
                url,
                token,
                origin,
                first_question=i,
                opening=opening,
                duration=duration,
                interval=interval,
                answer_timeout=answer_timeout,
                stats=stats,
            )
            for i, (url, token) in enumerate(sessions)
        )
    )
    if not send_while_connecting:
        await opening.all_open.wait()
    connect_s = time.monotonic() - opening.began
    # CPU, load and the clock from when the customers start sending.
    cpu_before = cpu_seconds(measured)
    load_before = os.getloadavg()
    _, calls_before, streamed_before = model.last_request()
    wall_started = time.perf_counter()
    clock_started = time.time()
    port = int(base.rsplit(":", 1)[1])
    sockets_seen: list[int] = []

    async def count_sockets() -> None:
        # Halfway through, every customer's socket is open: how the kernel spread them.
        await asyncio.sleep(duration / 2)
        sockets_seen.extend(sockets_per_process(processes["web"], port))

    count_task = asyncio.create_task(count_sockets())
    await customers
    wall = time.perf_counter() - wall_started
    count_task.cancel()
    stop.set()
    await probe_task
    cpu_after = cpu_seconds(measured)
    load_after = os.getloadavg()
    _, calls_after, streamed_after = model.last_request()
    # A process that died during the round has no "after": its CPU is lost, so say so.
    vanished = [pid for pid in cpu_before if pid not in cpu_after]
    cpu_by_role = {
        role: sum(
            cpu_after[p.pid] - cpu_before[p.pid] for p in processes[role] if p.pid in cpu_before and p.pid in cpu_after
        )
        for role in ("web", "worker", "model_workers")
    }
    cpu_total = sum(cpu_by_role.values())
    model_first_ms = statistics.median(probe["first"]) * 1000 if probe["first"] else float("nan")
    model_total_ms = statistics.median(probe["total"]) * 1000 if probe["total"] else float("nan")
    added_first = [v - model_first_ms for v in stats.first_ms]
    added_final = [v - model_total_ms for v in stats.final_ms]
    errors = sum(stats.errors.values())
    trace = None
    if trace_path:
        clock_ended = time.time()
        # The client's side of the join, kept for re-reading the trace later.
        client_path = trace_path.with_name(f"{trace_path.stem}.{conversations}.client.json")
        client_path.write_text(json.dumps({"start": clock_started, "end": clock_ended, "messages": stats.messages}))
        trace = trace_report(stats.messages, trace_path, clock_started, clock_ended)
    return {
        "trace": trace,
        "conversations": conversations,
        "messages_sent": stats.sent,
        "answered": stats.answered,
        "errors": errors,
        "error_kinds": stats.errors,
        "late_sends": stats.late_sends,
        "model_calls_per_answer": {
            "streamed": round((streamed_after - streamed_before) / max(1, stats.answered), 2),
            "other": round((calls_after - calls_before - streamed_after + streamed_before) / max(1, stats.answered), 2),
        },
        "messages_per_s": round(stats.sent / wall, 2),
        "model_direct_ms": {
            "first_content_p50": round(model_first_ms, 1),
            "first_content_p95": round(percentile([v * 1000 for v in probe["first"]], 95), 1),
            "first_content_max": round(max(probe["first"], default=float("nan")) * 1000, 1),
            "done_p50": round(model_total_ms, 1),
            "done_p95": round(percentile([v * 1000 for v in probe["total"]], 95), 1),
            "samples": len(probe["first"]),
        },
        "sockets_per_web_process": sockets_seen,
        "measured_first_delta_ms": {
            "p50": round(percentile(stats.first_ms, 50), 1),
            "p95": round(percentile(stats.first_ms, 95), 1),
        },
        "added_first_delta_ms": {
            "p50": round(percentile(added_first, 50), 1),
            "p95": round(percentile(added_first, 95), 1),
        },
        "added_final_ms": {"p50": round(percentile(added_final, 50), 1), "p95": round(percentile(added_final, 95), 1)},
        "cpu_s": {role: round(seconds, 2) for role, seconds in cpu_by_role.items()},
        "cpu_ms_per_message": round(cpu_total * 1000 / max(1, stats.sent), 1),
        "cpu_ms_per_turn": round(cpu_total * 1000 / max(1, stats.answered), 1),
        "cpu_cores_busy": round(cpu_total / wall, 2),
        "web_processes": len(processes["web"]),
        "processes_vanished": len(vanished),
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "wall_s": round(wall, 1),
        "sending_started": "while connecting" if send_while_connecting else "once every socket was open",
        "connect_s": round(connect_s, 2),
    }


def median_round(runs: list[dict]) -> dict:
    """Medians over rounds of every figure; errors are summed, never medianed away."""

    def med(path: tuple[str, ...]) -> float:
        values = []
        for run in runs:
            value = run
            for key in path:
                value = value[key]
            values.append(value)
        return round(statistics.median(values), 1)

    return {
        "conversations": runs[0]["conversations"],
        "added_first_delta_ms": {
            "p50": med(("added_first_delta_ms", "p50")),
            "p95": med(("added_first_delta_ms", "p95")),
        },
        "added_final_ms": {"p50": med(("added_final_ms", "p50")), "p95": med(("added_final_ms", "p95"))},
        "model_direct_ms": {
            "first_content_p50": med(("model_direct_ms", "first_content_p50")),
            "done_p50": med(("model_direct_ms", "done_p50")),
        },
        "cpu_ms_per_message": med(("cpu_ms_per_message",)),
        "cpu_ms_per_turn": med(("cpu_ms_per_turn",)),
        "cpu_cores_busy": med(("cpu_cores_busy",)),
        "messages_per_s": med(("messages_per_s",)),
        "messages_sent": sum(r["messages_sent"] for r in runs),
        "answered": sum(r["answered"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "late_sends": sum(r["late_sends"] for r in runs),
        "load_average_1m": [r["load_average_1m"] for r in runs],
        "connect_s": med(("connect_s",)),
        "sending_started": runs[0]["sending_started"],
        "rounds": len(runs),
    }


def prepare_site(origin: str) -> None:
    from conversations.models import WidgetSite

    site, _ = WidgetSite.objects.get_or_create(
        key=SITE_KEY, defaults={"name": "Bench Shop", "allowed_origins": [origin]}
    )
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=True, allowed_origins=[origin])


def write_result(
    args: argparse.Namespace, env: dict, interval: tuple[float, float], runs_by_size: dict[int, list[dict]]
) -> dict:
    """Written after every round, so an interrupted run keeps what it measured."""
    first = next(iter(runs_by_size.values()))[0]
    result = {
        "benchmark": "open_loop",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "app": {
            "command": "python -m supportbot.runtime",
            "WEB_PROCESSES": env.get("WEB_PROCESSES"),
            "web_processes_seen": first["web_processes"],
        },
        "limits_raised": RAISED_LIMITS,
        "customer_interval_s": list(interval),
        "duration_s": args.duration,
        "model": {"ttft_ms": args.ttft * 1000, "words": ANSWER_WORDS, "token_interval_ms": args.token_interval * 1000},
        "summary": [median_round(runs) for runs in runs_by_size.values()],
        "runs": runs_by_size,
        "targets": {"conversations": 300, "added_first_delta_p95_ms_at_most": 150, "errors": 0},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", default="300", help="concurrent conversations; a comma list runs each size")
    parser.add_argument(
        "--duration",
        type=float,
        default=125.0,
        help="seconds of sending per round (125: every conversation sends at least 4 messages)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", default="15,30", help="seconds between a customer's messages: min,max")
    parser.add_argument("--ttft", type=float, default=0.3, help="the fake model's time to first token, seconds")
    parser.add_argument("--token-interval", type=float, default=0.02, help="seconds between streamed words")
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="no bot answer by then counts as an error")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=None,
        help="sets WEB_PROCESSES for the runtime (default: the environment's, else the runtime's own)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "open_loop.json")
    parser.add_argument("--port", type=int, default=None, help="the app's port (default: a free one)")
    parser.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="record every bot turn's stage times to this file (BOT_TURN_TRACE_PATH) and report where the "
        "slow turns' time goes (benchmarks/open_loop_trace.py)",
    )
    parser.add_argument(
        "--send-while-connecting",
        action="store_true",
        help="each customer starts sending once its own socket is open, while the others still connect "
        "(the connection burst inside the measured round), instead of once every socket is open",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.conversations.split(",")]
    interval = tuple(float(x) for x in args.interval.split(","))
    assert len(interval) == 2 and 0 < interval[0] <= interval[1], "--interval is min,max seconds"

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(sizes) + 1024)), hard))

    setup_django()  # starts the embedded services; the runtime inherits their URLs
    demo_articles_indexed()
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    origin = base
    prepare_site(origin)
    from django.db import connections

    connections.close_all()

    model = ModelHandle(args.ttft, args.token_interval)
    env = dict(
        os.environ,
        **RAISED_LIMITS,
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="supportbot.settings.base",
        LLM_BASE_URL=model.base_url,
        LLM_MODEL="fake-model",
    )
    if args.web_processes is not None:
        env["WEB_PROCESSES"] = str(args.web_processes)
    if args.trace is not None:
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.unlink(missing_ok=True)
        env["BOT_TURN_TRACE_PATH"] = str(args.trace.resolve())
    log_path = ROOT / ".data" / "bench" / "open_loop_runtime.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"limits raised for the run: {', '.join(f'{k}={v}' for k, v in RAISED_LIMITS.items())}")
    print(f"runtime (make run) on {base}, WEB_PROCESSES={env.get('WEB_PROCESSES', '(unset)')}, log {log_path}")
    runs_by_size: dict[int, list[dict]] = {}
    with open(log_path, "wb") as log:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "supportbot.runtime"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(base, runtime, 240)
            # Warm-up: first imports, connection pools; and the request body the app sends the model.
            asyncio.run(
                run_round(
                    base,
                    origin,
                    model,
                    {},
                    conversations=2,
                    duration=1.0,
                    interval=(0.5, 0.5),
                    answer_timeout=60,
                    runtime_pid=runtime.pid,
                )
            )
            probe_body, _, _ = model.last_request()
            if probe_body is None:
                raise RuntimeError("the warm-up reached no streamed model call: is the bot on and answering?")
            for size in sizes:
                for round_number in range(args.rounds):
                    settle(runtime.pid)
                    run = asyncio.run(
                        run_round(
                            base,
                            origin,
                            model,
                            probe_body,
                            conversations=size,
                            duration=args.duration,
                            interval=interval,
                            answer_timeout=args.answer_timeout,
                            runtime_pid=runtime.pid,
                            trace_path=args.trace,
                            send_while_connecting=args.send_while_connecting,
                        )
                    )
                    runs_by_size.setdefault(size, []).append(run)
                    write_result(args, env, interval, runs_by_size)
                    print(
                        f"{size} conversations, round {round_number + 1}: added first delta p50 "
                        f"{run['added_first_delta_ms']['p50']} / p95 {run['added_first_delta_ms']['p95']} ms, "
                        f"final p95 {run['added_final_ms']['p95']} ms, {run['cpu_ms_per_turn']} ms CPU/turn, "
                        f"errors {run['errors']} {run['error_kinds'] or ''}, load {run['load_average_1m']}, "
                        f"{run['connect_s']} s to open the sockets, sending {run['sending_started']}",
                        flush=True,
                    )
                    if run["trace"]:
                        print("\n".join(trace_lines(run["trace"])), flush=True)
        finally:
            runtime.terminate()  # the supervisor stops its children in order
            try:
                runtime.wait(timeout=30)
            except subprocess.TimeoutExpired:
                runtime.kill()
            model.stop()

    result = write_result(args, env, interval, runs_by_size)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
