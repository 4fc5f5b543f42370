"""Bot turn benchmark (not a test): the latency and CPU this application adds around the model.

One Daphne process on the real stack (embedded Postgres/Redis in .data/bench unless configured)
talks to the fake OpenAI-compatible server (tests/fakes/model_server.py) with a fixed time to
first token and token rate. For each concurrency level (--concurrency, default 10 and 50) and
each of --rounds rounds:

  * baseline: as many concurrent streaming requests straight to the fake model, from this same
    client process, measure what the model alone takes to the first token and to the last;
  * bot: that many new conversations run concurrently, each sending --turns messages one after
    another, and for each turn the client measures
      added time to first delta = (first `delta` frame - message sent) - the baseline's median
                                  time to the first token
      added total               = (final bot `message` - message sent) - the baseline's median
                                  time to the last token
  * Daphne's CPU time (user + system, from /proc via psutil, not wall time) over the round,
    divided by the turns answered: the in-process CPU of a turn, with the customer message's
    own handling (frame, redaction, storing) and every frame written to the socket included;
    and apart, the CPU its model worker processes (PII detection, embedding) spent meanwhile.
    The RSS of Daphne and of each worker is reported after warm-up and at the end.

Per level the medians over the rounds are reported, with every round's figures and the load
average (the machine is shared; compare against the baseline of the same run). JSON goes to
benchmarks/results/bot_turn.json.

    .venv/bin/python benchmarks/bot_turn.py [--concurrency 10,50] [--rounds 3] [--turns 3] [--ttft 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_transport import percentile, setup_django, wait_for_healthz  # noqa: E402

ANSWER_WORDS = 30
# Questions the demo articles answer: a turn without a grounded answer twice in a row would hand
# the conversation to a person and end the run's conversation early.
QUESTIONS = [
    "How much does shipping cost?",
    "How do I return an item?",
    "When will I get my refund?",
    "Which payment methods do you accept?",
]


def _workers(process) -> list:
    """Daphne's model worker processes (its spawned pool), not multiprocessing's resource tracker."""
    import psutil

    found = []
    for child in process.children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def workers_cpu(process) -> float:
    import psutil

    total = 0.0
    for child in _workers(process):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def memory_mb(process) -> dict:
    return {
        "web_process": round(process.memory_info().rss / 2**20, 1),
        "workers": sorted(round(c.memory_info().rss / 2**20, 1) for c in _workers(process)),
    }


def demo_articles_indexed() -> None:
    from demoshop.demo_articles import demo_articles_ensure
    from knowledge.indexing import article_index
    from knowledge.models import Article

    demo_articles_ensure()
    for article_id in Article.objects.exclude(index_state=Article.IndexState.INDEXED).values_list("pk", flat=True):
        article_index(article_id=article_id)


def make_sessions(count: int, origin: str) -> list[tuple[str, str]]:
    from conversations.lib.tokens import conversation_token_issue
    from conversations.models import Conversation, Customer, WidgetSite

    site, _ = WidgetSite.objects.get_or_create(
        key="bench-bot-site", defaults={"name": "Bench Shop", "allowed_origins": [origin]}
    )
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=True, allowed_origins=[origin])
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


async def converse(url: str, origin: str, turns: int, results: dict) -> None:
    import websockets

    try:
        async with websockets.connect(url, origin=origin, max_size=2**20) as socket:
            for n in range(turns):
                sent = time.perf_counter()
                await socket.send(
                    json.dumps(
                        {"type": "message", "client_id": str(uuid.uuid4()), "text": QUESTIONS[n % len(QUESTIONS)]}
                    )
                )
                first = None
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
                    if frame["type"] == "delta" and first is None:
                        first = time.perf_counter()
                    if frame["type"] == "message" and frame["role"] == "bot":
                        break
                done = time.perf_counter()
                if first is None:
                    results["errors"] += 1  # answered without streaming: the model path failed
                    continue
                results["first_ms"].append((first - sent) * 1000)
                results["total_ms"].append((done - sent) * 1000)
    except Exception as error:  # counted, reported: a benchmark run should finish
        results["errors"] += 1
        results.setdefault("error_kinds", []).append(type(error).__name__)


async def model_alone(base_url: str, count: int) -> dict:
    """The baseline: `count` concurrent streamed completions straight from the fake model."""
    import httpx

    first_ms: list[float] = []
    total_ms: list[float] = []
    errors: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        sent = time.perf_counter()
        first = None
        body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": QUESTIONS[0]}]}
        try:
            async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if first is None and line.startswith("data: {") and '"content": "w' in line:
                        first = time.perf_counter()
        except httpx.HTTPError:
            errors.append(1)
            return
        first_ms.append(((first or time.perf_counter()) - sent) * 1000)
        total_ms.append((time.perf_counter() - sent) * 1000)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    return {"first_ms": first_ms, "total_ms": total_ms, "errors": len(errors)}


def summary(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1), "n": len(values)}


def median_of(rounds: list[dict], *keys: str) -> float:
    values = []
    for r in rounds:
        value = r
        for key in keys:
            value = value[key]
        values.append(value)
    return round(statistics.median(values), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="10,50", help="concurrent conversations, comma-separated levels")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--ttft", type=float, default=0.3, help="model's time to first token, seconds")
    parser.add_argument("--token-interval", type=float, default=0.02, help="seconds between streamed words")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bot_turn.json")
    parser.add_argument(
        "--py-spy",
        default="",
        help="path to a py-spy binary: record Daphne during the runs (only samples holding the GIL: where its CPU goes)",
    )
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    levels = [int(n) for n in args.concurrency.split(",")]

    import psutil

    from tests.fakes.model_server import FakeModelServer, Reply

    setup_django()
    demo_articles_indexed()
    origin = f"http://127.0.0.1:{args.port}"
    sessions = make_sessions(2 + sum(levels) * args.rounds, origin)
    from django.db import connections

    connections.close_all()
    answer = " ".join(f"word{n}" for n in range(ANSWER_WORDS))
    model = FakeModelServer()
    # http.server listens with a backlog of 5: 50 simultaneous connects would be reset, not queued.
    model._server.socket.listen(1024)
    model.start()
    model.default_reply = lambda body: Reply(
        text=answer, delay_seconds=args.ttft, seconds_per_token=args.token_interval
    )

    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="supportbot.settings.base",
        LOG_LEVEL="WARNING",
        LLM_BASE_URL=model.base_url,
        LLM_MODEL="fake-model",
        CHAT_RATE_BURST="1000000",
        CHAT_RATE_PER_SECOND="1000000",
        LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000000",
        CHAT_MAX_SOCKETS_PER_IP="1000000",
        LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE="1000000",
        LLM_DAILY_TOKENS_PER_SITE="1000000000",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(args.port),
            "--access-log",
            os.devnull,
            "supportbot.asgi:application",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"ws://127.0.0.1:{args.port}"
    urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions]
    spy = None
    levels_out: dict[str, dict] = {}
    try:
        # Models load before Daphne listens; on a busy machine that takes minutes.
        wait_for_healthz(origin, seconds=600)

        async def run(selected: list[str], turns: int) -> dict:
            results: dict = {"first_ms": [], "total_ms": [], "errors": 0}
            await asyncio.gather(*(converse(u, origin, turns, results) for u in selected))
            return results

        process = psutil.Process(server.pid)
        rss_warm = memory_mb(process)
        asyncio.run(run(urls[:2], 1))  # warm-up: first imports, connection pools
        unused = urls[2:]
        if args.py_spy:
            spy = subprocess.Popen(
                [
                    args.py_spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--format",
                    "speedscope",
                    "-o",
                    str(args.output.with_suffix(".speedscope.json")),
                    "--rate",
                    "250",
                    "--nonblocking",
                    # A thread waiting for the GIL looks busy to a sampler: only the holder's stack is CPU.
                    "--gil",
                ]
            )
        for level in levels:
            rounds = []
            for _ in range(args.rounds):
                selected, unused = unused[:level], unused[level:]
                alone = asyncio.run(model_alone(model.base_url, level))
                model_first = statistics.median(alone["first_ms"])
                model_total = statistics.median(alone["total_ms"])
                cpu_before = sum(process.cpu_times()[:2])
                workers_before = workers_cpu(process)
                started = time.perf_counter()
                results = asyncio.run(run(selected, args.turns))
                wall = time.perf_counter() - started
                cpu = sum(process.cpu_times()[:2]) - cpu_before
                workers_cpu_spent = workers_cpu(process) - workers_before
                turns = len(results["total_ms"])
                rounds.append(
                    {
                        "model_alone_ms": {
                            "first": summary(alone["first_ms"]),
                            "total": summary(alone["total_ms"]),
                            "errors": alone["errors"],
                        },
                        "added_first_delta_ms": summary([v - model_first for v in results["first_ms"]]),
                        "added_total_ms": summary([v - model_total for v in results["total_ms"]]),
                        "cpu_ms_per_turn": round(cpu * 1000 / max(turns, 1), 1),
                        "worker_cpu_ms_per_turn": round(workers_cpu_spent * 1000 / max(turns, 1), 1),
                        "turns": turns,
                        "turns_per_s": round(turns / wall, 2),
                        "errors": results["errors"],
                        "error_kinds": sorted(set(results.get("error_kinds", []))),
                        "load_average_1m": round(os.getloadavg()[0], 2),
                    }
                )
            levels_out[str(level)] = {
                "median_of_rounds": {
                    "added_first_delta_p50_ms": median_of(rounds, "added_first_delta_ms", "p50"),
                    "added_first_delta_p95_ms": median_of(rounds, "added_first_delta_ms", "p95"),
                    "added_total_p50_ms": median_of(rounds, "added_total_ms", "p50"),
                    "added_total_p95_ms": median_of(rounds, "added_total_ms", "p95"),
                    "cpu_ms_per_turn": median_of(rounds, "cpu_ms_per_turn"),
                    "worker_cpu_ms_per_turn": median_of(rounds, "worker_cpu_ms_per_turn"),
                    "model_alone_first_p50_ms": median_of(rounds, "model_alone_ms", "first", "p50"),
                    "turns_per_s": median_of(rounds, "turns_per_s"),
                    "errors": sum(r["errors"] for r in rounds),
                },
                "rounds": rounds,
            }
            print(json.dumps({"concurrency": level, **levels_out[str(level)]["median_of_rounds"]}), flush=True)
        rss_end = memory_mb(process)
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=120)
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        model.stop()

    result = {
        "benchmark": "bot_turn",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "turns_per_conversation": args.turns,
        "rounds": args.rounds,
        "model": {"ttft_ms": args.ttft * 1000, "token_interval_ms": args.token_interval * 1000, "words": ANSWER_WORDS},
        "concurrency": levels_out,
        "rss_after_warm_up_mb": rss_warm,
        "rss_at_end_mb": rss_end,
        "targets": {"cpu_ms_per_turn": 25, "added_first_delta_p50_ms": 60, "added_total_p95_ms": 100},
    }
    args.output.write_text(json.dumps(result, indent=1))
    print(
        json.dumps(
            {
                "when": result["when"],
                "rss_after_warm_up_mb": rss_warm,
                "rss_at_end_mb": rss_end,
                **{level: data["median_of_rounds"] for level, data in levels_out.items()},
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
