"""Bot turn benchmark (not a test): the latency this application adds around the model.

One Daphne process on the real stack (embedded Postgres/Redis in .data/bench unless configured)
talks to the fake OpenAI-compatible server (tests/fakes/model_server.py) with a fixed time to
first token and token rate. N conversations run concurrently, each sending --turns messages one
after another. For each turn the client measures:

  * added time to first delta = (first `delta` frame - message sent) - the model's time to first token
  * added total               = (final bot `message` - message sent) - the model's whole answer time

The model's times are the configured ones (first token after --ttft, then one word every
--token-interval), so the difference is what our pipeline costs: guardrails, embedding, retrieval,
prompt building, streaming through Redis, output checks and storing. Daphne's CPU time per turn
is read from /proc via psutil. Results are written as JSON to benchmarks/results/bot_turn.json.

    .venv/bin/python benchmarks/bot_turn.py [--conversations 50] [--turns 3] [--ttft 0.3]
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
QUESTIONS = ["How much does shipping cost?", "How do I return an item?", "When will I get my refund?",
             "Which payment methods do you accept?"]


def demo_articles_indexed() -> None:
    from knowledge.demo import demo_articles_ensure
    from knowledge.indexing import article_index
    from knowledge.models import Article

    demo_articles_ensure()
    for article_id in Article.objects.exclude(index_state=Article.IndexState.INDEXED).values_list("pk", flat=True):
        article_index(article_id=article_id)


def make_sessions(count: int, origin: str) -> list[tuple[str, str]]:
    from conversations.models import Conversation, Customer, WidgetSite
    from conversations.widget.tokens import conversation_token_issue

    site, _ = WidgetSite.objects.get_or_create(key="bench-bot-site", defaults={"name": "Bench Shop", "allowed_origins": [origin]})
    WidgetSite.objects.filter(pk=site.pk).update(bot_enabled=True, allowed_origins=[origin])
    customers = Customer.objects.bulk_create([Customer(site=site) for _ in range(count)])
    conversations = Conversation.objects.bulk_create([Conversation(site=site, customer=c) for c in customers])
    return [(str(c.public_id), conversation_token_issue(conversation_id=c.public_id, site_key=site.key,
                                                        customer_key=c.customer.anonymous_id))
            for c in conversations]


async def converse(url: str, origin: str, turns: int, model_first: float, model_total: float, results: dict) -> None:
    import websockets

    try:
        async with websockets.connect(url, origin=origin, max_size=2**20) as socket:
            for n in range(turns):
                sent = time.perf_counter()
                await socket.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()),
                                              "text": QUESTIONS[n % len(QUESTIONS)]}))
                first = None
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
                    if frame["type"] == "delta" and first is None:
                        first = time.perf_counter()
                    if frame["type"] == "message" and frame["role"] == "bot":
                        break
                done = time.perf_counter()
                if first is None:
                    results["errors"] += 1  # answered without streaming: the model path failed
                    continue
                results["first_delta_added_ms"].append((first - sent - model_first) * 1000)
                results["total_added_ms"].append((done - sent - model_total) * 1000)
    except Exception as error:  # counted, reported: a benchmark run should finish
        results["errors"] += 1
        results.setdefault("error_kinds", []).append(type(error).__name__)


def summary(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "mean": round(statistics.fmean(values), 1) if values else None, "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--ttft", type=float, default=0.3, help="model's time to first token, seconds")
    parser.add_argument("--token-interval", type=float, default=0.02, help="seconds between streamed words")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bot_turn.json")
    args = parser.parse_args()

    import psutil

    from tests.fakes.model_server import FakeModelServer, Reply

    setup_django()
    demo_articles_indexed()
    origin = f"http://127.0.0.1:{args.port}"
    sessions = make_sessions(args.conversations, origin)
    from django.db import connections

    connections.close_all()
    answer = " ".join(f"word{n}" for n in range(ANSWER_WORDS))
    model = FakeModelServer().start()
    model.default_reply = lambda body: Reply(text=answer, delay_seconds=args.ttft, seconds_per_token=args.token_interval)
    model_first = args.ttft
    model_total = args.ttft + (ANSWER_WORDS - 1) * args.token_interval

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="supportbot.settings.base", LOG_LEVEL="WARNING",
               LLM_BASE_URL=model.base_url, LLM_MODEL="fake-model", CHAT_RATE_BURST="1000000",
               CHAT_RATE_PER_SECOND="1000000", LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000000", CHAT_MAX_SOCKETS_PER_IP="1000000",
               LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE="1000000", LLM_DAILY_TOKENS_PER_SITE="1000000000")
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(args.port),
                               "--access-log", os.devnull, "supportbot.asgi:application"], cwd=ROOT, env=env)
    try:
        wait_for_healthz(origin, seconds=60)  # models load before Daphne listens
        base = f"ws://127.0.0.1:{args.port}"
        urls = [f"{base}/ws/chat/{cid}/?token={token}" for cid, token in sessions]

        async def run(selected: list[str], turns: int) -> dict:
            results: dict = {"first_delta_added_ms": [], "total_added_ms": [], "errors": 0}
            await asyncio.gather(*(converse(u, origin, turns, model_first, model_total, results) for u in selected))
            return results

        asyncio.run(run(urls[:2], 1))  # warm-up: first imports, connection pools
        process = psutil.Process(server.pid)
        cpu_before = sum(process.cpu_times()[:2])
        started = time.perf_counter()
        results = asyncio.run(run(urls, args.turns))
        wall = time.perf_counter() - started
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        rss = process.memory_info().rss
    finally:
        server.terminate()
        server.wait(timeout=20)
        model.stop()

    turns = len(results["total_added_ms"])
    result = {
        "benchmark": "bot_turn",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "conversations": args.conversations, "turns_per_conversation": args.turns,
        "model": {"ttft_ms": model_first * 1000, "answer_ms": round(model_total * 1000, 1), "words": ANSWER_WORDS},
        "added_first_delta_ms": summary(results["first_delta_added_ms"]),
        "added_total_ms": summary(results["total_added_ms"]),
        "cpu_ms_per_turn": round(cpu * 1000 / max(turns, 1), 1),
        "turns_per_s": round(turns / wall, 2),
        "errors": results["errors"], "error_kinds": sorted(set(results.get("error_kinds", []))),
        "server_rss_mb": round(rss / 2**20, 1),
        "targets": {"added_first_delta_p50_ms": 60, "added_total_p95_ms": 100},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine",)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
