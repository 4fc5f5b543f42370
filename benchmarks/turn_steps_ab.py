"""A/B of single bot-turn steps (not a test): the worktree's code against a commit's, in one
process, interleaved call by call, so the machine's load hits both alike.

The commit's versions of knowledge/selectors.py, guardrails/limits.py and
conversations/bot/context.py are loaded from git
under other module names (they define no models); each step runs --calls times per side on the
real stack (embedded Postgres/Redis in .data/bench unless configured), and the median thread CPU
(`time.thread_time`) per call is reported per side:

  * knowledge_search: the demo questions, query vectors computed beforehand (retrieval itself);
  * token budget: `token_budget_check` + `token_budget_spend`, what a model call costs the limits;
  * message limits: `message_limits_check`, on every customer message;
  * turn input: `turn_input_load` (conversations/bot/context.py) of a conversation holding three
    customer messages.

    .venv/bin/python benchmarks/turn_steps_ab.py --base 8342792 [--calls 200] [--output FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
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
    "can i pay with paypall",
]


def module_at(commit: str, path: str, name: str):  # noqa: ANN201 (a module)
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = f"{commit}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 (our own file at a commit)
    return module


def ab(calls: int, steps: dict[str, callable]) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(calls):
        for name, step in steps.items():
            started = time.thread_time()
            step()
            times[name].append((time.thread_time() - started) * 1000)
    return {name: round(statistics.median(values), 3) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "turn_steps_ab.json")
    args = parser.parse_args()
    setup_django()
    demo_articles_indexed()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    from guardrails import limits as new_limits
    from knowledge import selectors as new_selectors
    from knowledge.query_text import knowledge_query_text
    from supportbot.llm.embeddings import get_embedder

    old_selectors = module_at(args.base, "knowledge/selectors.py", "base_knowledge_selectors")
    old_limits = module_at(args.base, "guardrails/limits.py", "base_guardrails_limits")
    old_context = module_at(args.base, "conversations/bot/context.py", "base_bot_context")
    from conversations.bot import context as new_context
    from conversations.chat.messages import message_post
    from conversations.models import Conversation, Customer, WidgetSite

    site, _ = WidgetSite.objects.get_or_create(key="bench-turn-steps", defaults={"name": "Bench Shop"})
    conversation = Conversation.objects.create(site=site, customer=Customer.objects.create(site=site))
    for text in QUESTIONS[:3]:
        message_post(conversation_id=conversation.pk, role="customer", text=text)
    a = new_context.turn_input_load(conversation_id=conversation.pk, up_to_seq=3, history_messages=6)
    b = old_context.turn_input_load(conversation_id=conversation.pk, up_to_seq=3, history_messages=6)
    assert a is not None and dataclasses.asdict(a) == dataclasses.asdict(b), (a, b)
    vectors = {q: get_embedder().embed([knowledge_query_text(question=q)])[0] for q in QUESTIONS}
    for q in QUESTIONS:  # the same answers from both sides
        a = new_selectors.knowledge_search(question=q, audience="anonymous", query_vector=vectors[q])
        b = old_selectors.knowledge_search(question=q, audience="anonymous", query_vector=vectors[q])
        assert dataclasses.asdict(a) == dataclasses.asdict(b), (q, a, b)
    counter = iter(range(10**9))

    def search(module):  # noqa: ANN001, ANN202
        return lambda: [
            module.knowledge_search(question=q, audience="anonymous", query_vector=vectors[q])
            for q in QUESTIONS[next(counter) % len(QUESTIONS) :][:1]
        ]

    def budget(module):  # noqa: ANN001, ANN202
        def step() -> None:
            module.token_budget_check(conversation_id=999_999, site_id=999_999)
            module.token_budget_spend(conversation_id=999_999, site_id=999_999, tokens=130)

        return step

    def message(module):  # noqa: ANN001, ANN202
        return lambda: module.message_limits_check(conversation_id=999_999, client_ip="127.0.0.1")

    def turn_input(module):  # noqa: ANN001, ANN202
        return lambda: module.turn_input_load(conversation_id=conversation.pk, up_to_seq=3, history_messages=6)

    result = {
        "benchmark": "turn_steps_ab",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base": args.base,
        "calls": args.calls,
        "unit": "median thread CPU ms per call",
        "knowledge_search": ab(args.calls, {"base": search(old_selectors), "worktree": search(new_selectors)}),
        "token_budget_check_and_spend": ab(args.calls, {"base": budget(old_limits), "worktree": budget(new_limits)}),
        "message_limits_check": ab(args.calls, {"base": message(old_limits), "worktree": message(new_limits)}),
        "turn_input_load": ab(args.calls, {"base": turn_input(old_context), "worktree": turn_input(new_context)}),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
