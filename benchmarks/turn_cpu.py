"""In-process CPU of one customer message and one bot turn (not a test), without sockets.

bot_turn.py measures a whole Daphne process (websocket framing and fan-out included) under
concurrency; this one isolates the application's own work, one step at a time, in one process and
one event loop, on the real stack (embedded Postgres/Redis in .data/bench unless configured):

  * message: what the chat consumer runs for a `message` frame after detection (the abuse
    limits, `customer_message_post` with the spans known, publishing what it committed), and
    PII detection itself (which runs in the redaction workers in production), measured apart;
  * turn, offline responder: `turn_drive` (lease claim, `turn_run`, lease pass) with no model;
  * turn, model path: the same against tests/fakes/model_server.py in its own process (so its
    CPU is not counted), 30 streamed words.

CPU is `time.process_time()` of this process (every thread: the event loop and the thread pool),
not wall time. Each step alternates over the demo questions; per path the median and mean of
--turns runs after --warmup are reported, per round, and the median over --rounds rounds.
`--profile PATH` writes a cProfile of one round of each path (cumulative, top 40) next to it.
`--transports default,httpx` runs the model path once per HTTP client of the SDK, interleaved in
every round (A/B in one run; `default` is the gateway's own).
`--workers N` runs with N model worker processes (PII_REDACTION_PROCESSES, default 0: everything
in this process); the work they do for a turn is reported apart (`worker_turn_ms`, their CPU), as
are this process's and each worker's RSS after warm-up.

    .venv/bin/python benchmarks/turn_cpu.py [--rounds 3] [--turns 24] [--workers 2] [--transports default,httpx]
        [--breakdown] [--profile out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bot_turn import demo_articles_indexed  # noqa: E402
from benchmarks.chat_transport import setup_django  # noqa: E402

QUESTIONS = [
    "How much does shipping cost?",
    "How do I return an item?",
    "When will I get my refund?",
    "Which payment methods do you accept?",
    "how long does delivery take?",
    "retrun policy?",
    "Do you ship to Canada?",
    "and for express?",
]
ANSWER = " ".join(f"word{n}" for n in range(30))
NOT_WORKERS: set[int] = set()  # child processes that are not model workers (the fake model server)


def workers_cpu_seconds() -> float:
    """User + system CPU of this process's model worker processes (the spawned pool)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        if child.pid in NOT_WORKERS:
            continue
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_mb() -> dict:
    import psutil

    me = psutil.Process()
    workers = [
        c
        for c in me.children(recursive=True)
        if c.pid not in NOT_WORKERS and "resource_tracker" not in " ".join(c.cmdline())
    ]
    return {
        "web_process_rss_mb": round(me.memory_info().rss / 2**20, 1),
        "worker_rss_mb": sorted(round(c.memory_info().rss / 2**20, 1) for c in workers),
    }


MODEL_SERVER = """
import sys, threading
from tests.fakes.model_server import FakeModelServer, Reply
server = FakeModelServer()
server._server.socket.listen(128)
server.start()
server.default_reply = lambda body: Reply(text=sys.argv[1], delay_seconds=0.0, seconds_per_token=0.002)
print(server.base_url, flush=True)
threading.Event().wait()  # serve until the benchmark kills this process
"""


def new_conversation() -> int:
    from conversations.models import Conversation, Customer, WidgetSite

    site, _ = WidgetSite.objects.get_or_create(key="bench-turn-cpu", defaults={"name": "Bench Shop"})
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=True)
    return Conversation.objects.create(site=site, customer=Customer.objects.create(site=site)).pk


async def message_step(conversation_id: int, text: str, spans: list) -> None:
    """The consumer's `message` path after detection (conversations/widget/consumer.py `_dispatch`)."""
    from conversations.core import events
    from conversations.core.async_db import call_service, db
    from conversations.flows.messages import customer_message_post
    from guardrails.limits import message_limits_check

    await db(message_limits_check)(conversation_id=conversation_id, client_ip="127.0.0.1")
    _, pending = await call_service(
        customer_message_post,
        conversation_id=conversation_id,
        text=text,
        client_id=uuid.uuid4(),
        detected=spans,
        attachment_id=None,
    )
    await events.publish_collected(pending)


async def one_round(path: str, turns: int, warmup: int, profiler: cProfile.Profile | None) -> dict:
    from asgiref.sync import sync_to_async

    from conversations.bot.runner import turn_drive
    from guardrails.redaction import text_detect

    detect, message, turn, worker_turn = [], [], [], []
    conversation_id = await sync_to_async(new_conversation)()
    for n in range(warmup + turns):
        if n % 4 == 0:  # a few turns per conversation: history grows, as in a chat
            conversation_id = await sync_to_async(new_conversation)()
        text = QUESTIONS[n % len(QUESTIONS)]
        started = time.process_time()
        spans = text_detect(text=text)
        detected = time.process_time()
        if profiler and n >= warmup:
            profiler.enable()
        await message_step(conversation_id, text, spans)
        workers_before = workers_cpu_seconds()
        posted = time.process_time()
        await turn_drive(conversation_id)
        ended = time.process_time()
        workers_after = workers_cpu_seconds()
        if profiler and n >= warmup:
            profiler.disable()
        if n >= warmup:
            detect.append((detected - started) * 1000)
            message.append((posted - detected) * 1000)
            turn.append((ended - posted) * 1000)
            worker_turn.append((workers_after - workers_before) * 1000)
    return {
        name: {"median": round(statistics.median(v), 2), "mean": round(statistics.mean(v), 2)}
        for name, v in (
            ("detect_ms", detect),
            ("message_ms", message),
            ("turn_ms", turn),
            ("worker_turn_ms", worker_turn),
        )
    }


def profiled_round(path: str, turns: int, warmup: int) -> str:
    """cProfile of the event-loop thread and of every thread-pool call (the ORM work, embedding,
    retrieval run there), merged into one table."""
    from channels.db import DatabaseSyncToAsync

    profiles: list[cProfile.Profile] = []
    original = DatabaseSyncToAsync.thread_handler

    def profiled(self, loop, *args, **kwargs):
        profiler = cProfile.Profile(time.thread_time)
        profiles.append(profiler)
        return profiler.runcall(original, self, loop, *args, **kwargs)

    DatabaseSyncToAsync.thread_handler = profiled
    main_profiler = cProfile.Profile(time.thread_time)
    try:
        asyncio.run(one_round(path, turns, warmup, main_profiler))
    finally:
        DatabaseSyncToAsync.thread_handler = original
    out = io.StringIO()
    stats = pstats.Stats(main_profiler, stream=out)
    for profiler in profiles:
        stats.add(profiler)
    stats.sort_stats("cumulative").print_stats(70)
    return out.getvalue()


# (module, attribute) of the steps the breakdown times; sync ones run on the thread pool.
STEPS = [
    ("guardrails.limits", "message_limits_check"),
    ("conversations.flows.messages", "customer_message_post"),
    ("conversations.bot.runner", "turn_lease_claim"),
    ("conversations.bot.runner", "turn_lease_pass"),
    ("conversations.bot.turn_understanding", "turn_input_load"),
    ("conversations.bot.turn_understanding", "turn_texts"),
    ("conversations.bot.turn_understanding", "embed_async"),
    ("conversations.bot.turn_understanding", "turn_understood"),
    ("supportbot.llm.embeddings", "LocalMiniLM.encode"),
    ("conversations.bot.turn_understanding", "knowledge_search"),
    ("conversations.bot.turn_understanding", "token_budget_check"),
    ("conversations.bot.turn", "_model_call_record"),
    ("supportbot.llm.gateway", "LlmGateway._stream_once"),
    ("conversations.bot.turn", "text_patterns_async"),
    ("conversations.bot.turn", "reply_check"),
    ("conversations.bot.turn", "turn_output_post"),
]


def breakdown_round(path: str, turns: int, warmup: int) -> dict[str, float]:
    """CPU per turn of each step in STEPS (thread CPU for the thread-pool steps, process CPU for
    the async ones: one turn runs at a time, so nothing else runs meanwhile)."""
    import functools
    import importlib
    import inspect

    totals: dict[str, float] = {}
    restore = []
    for module_name, attribute in STEPS:
        module = importlib.import_module(module_name)
        owner, name = (
            (getattr(module, attribute.split(".")[0]), attribute.split(".")[1])
            if "." in attribute
            else (module, attribute)
        )
        original = getattr(owner, name)
        restore.append((owner, name, original))

        def timed(original=original, key=attribute):
            if inspect.iscoroutinefunction(original):

                @functools.wraps(original)
                async def wrapper(*args, **kwargs):
                    started = time.process_time()
                    try:
                        return await original(*args, **kwargs)
                    finally:
                        totals[key] = totals.get(key, 0.0) + time.process_time() - started
            else:

                @functools.wraps(original)
                def wrapper(*args, **kwargs):
                    started = time.thread_time()
                    try:
                        return original(*args, **kwargs)
                    finally:
                        totals[key] = totals.get(key, 0.0) + time.thread_time() - started

            return wrapper

        setattr(owner, name, timed())
    try:
        asyncio.run(one_round(path, warmup, 0, None))  # warm-up turns, not counted
        totals.clear()
        asyncio.run(one_round(path, turns, 0, None))
    finally:
        for owner, name, original in restore:
            setattr(owner, name, original)
    return {key: round(value * 1000 / turns, 2) for key, value in totals.items()}


HTTP_CLIENTS = {
    "aiohttp": lambda: __import__("openai").DefaultAioHttpClient(),  # the library's own, unpatched
    "httpx": lambda: __import__("openai").DefaultAsyncHttpxClient(),  # the SDK's default
}
GATEWAY_HTTP_CLIENT: list = []  # the gateway's own factory, kept while a variant replaces it


def path_variants(paths: list[str], transports: list[str]) -> list[tuple[str, str, str]]:
    """(label, path, transport): the model path once per transport, labelled `model-<transport>`
    when there are several."""
    variants = []
    for path in paths:
        for transport in transports if path == "model" else ["default"]:
            label = f"{path}-{transport}" if path == "model" and len(transports) > 1 else path
            variants.append((label, path, transport))
    return variants


def use_variant(path: str, transport: str, base_url: str) -> None:
    """Point the settings at the model (or not) and the gateway at `transport`'s HTTP client
    (`default`: the gateway's own). Each round runs in a fresh event loop, so it gets a fresh
    gateway built with that client."""
    from django.conf import settings

    from supportbot.llm import gateway

    settings.LLM_BASE_URL = base_url if path == "model" else ""
    if not GATEWAY_HTTP_CLIENT:
        GATEWAY_HTTP_CLIENT.append(gateway._http_client)
    gateway._http_client = GATEWAY_HTTP_CLIENT[0] if transport == "default" else HTTP_CLIENTS[transport]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--paths", default="offline,model")
    parser.add_argument(
        "--transports",
        default="default",
        help="the model path once per HTTP client of the SDK, interleaved: default (the gateway's), aiohttp, httpx",
    )
    parser.add_argument("--workers", type=int, default=0, help="model worker processes (PII_REDACTION_PROCESSES)")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--breakdown", action="store_true", help="also time each step of STEPS, in an extra round")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "turn_cpu.json")
    args = parser.parse_args()
    os.environ.update(
        LOG_LEVEL="WARNING",
        PII_REDACTION_PROCESSES=str(args.workers),
        CHAT_RATE_BURST="1000000",
        CHAT_RATE_PER_SECOND="1000000",
        LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000000",
        LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE="1000000",
        LLM_DAILY_TOKENS_PER_SITE="1000000000",
    )
    model = subprocess.Popen(
        [sys.executable, "-c", MODEL_SERVER, ANSWER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    NOT_WORKERS.add(model.pid)
    base_url = model.stdout.readline().strip()
    try:
        setup_django()
        from django.conf import settings

        from supportbot.warmup import models_preload

        demo_articles_indexed()
        models_preload()
        memory = rss_mb()
        print(json.dumps({"after_warm_up": memory}), flush=True)
        results: dict[str, list[dict]] = {}
        profiles: dict[str, str] = {}
        variants = path_variants(args.paths.split(","), args.transports.split(","))
        settings.LLM_MODEL = "fake-model"
        for round_number in range(args.rounds):
            for label, path, transport in variants:  # interleaved: each round runs every variant
                use_variant(path, transport, base_url)
                figures = asyncio.run(one_round(path, args.turns, args.warmup, None))
                figures["load_average_1m"] = round(os.getloadavg()[0], 2)
                results.setdefault(label, []).append(figures)
                print(json.dumps({"path": label, "round": round_number, **figures}), flush=True)
        breakdown = {}
        for label, path, transport in variants if args.breakdown else []:
            use_variant(path, transport, base_url)
            breakdown[label] = breakdown_round(path, args.turns, args.warmup)
            print(json.dumps({"path": label, "breakdown_ms_per_turn": breakdown[label]}), flush=True)
        for label, path, transport in variants if args.profile else []:
            # An extra round, not counted: the profiler slows what it watches.
            use_variant(path, transport, base_url)
            profiles[label] = profiled_round(path, args.turns, args.warmup)
    finally:
        model.terminate()
        model.wait(timeout=30)

    summary = {
        path: {
            key: round(statistics.median(r[key]["median"] for r in rounds), 2)
            for key in ("detect_ms", "message_ms", "turn_ms", "worker_turn_ms")
        }
        for path, rounds in results.items()
    }
    result = {
        "benchmark": "turn_cpu",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "turns_per_round": args.turns,
        "rounds": args.rounds,
        "workers": args.workers,
        "after_warm_up": memory,
        "median_of_round_medians": summary,
        "rounds_detail": results,
        "breakdown_ms_per_turn": breakdown,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    if args.profile:
        args.profile.write_text("\n\n".join(f"=== {path} ===\n{text}" for path, text in profiles.items()))
    print(json.dumps({"median_of_round_medians": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
