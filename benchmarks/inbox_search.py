"""Inbox search benchmark (not a test): the workspace's full-text message search (GIN index,
word prefixes) against the substring scan it replaced (`icontains` over every message), measured
in the same run on the same data.

Synthetic conversations (10 messages each, Zipf-distributed vocabulary so a few words are
everywhere and most are rare) are loaded with COPY into a database of their own
(.data/bench-inbox-search). For each size, a supervisor's "all" list is searched for rare words,
common words, 3-letter prefixes and two-word phrases; p50/p95 per kind, for both ways.

    .venv/bin/python benchmarks/inbox_search.py [--sizes 100000 400000] [--queries 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_transport import percentile, setup_django  # noqa: E402

VOCABULARY = [f"word{n}" for n in range(20_000)]
_WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
MESSAGES_PER_CONVERSATION = 10


def load(size: int) -> None:
    from django.db import connection

    from conversations.models import Conversation, Customer, Message, WidgetSite

    if Message.objects.count() == size:  # loaded by an earlier run (loading 400k takes minutes)
        return
    Message.objects.all().delete()
    Conversation.objects.all().delete()
    Customer.objects.all().delete()
    site, _ = WidgetSite.objects.get_or_create(key="bench-search", defaults={"name": "Bench"})
    count = size // MESSAGES_PER_CONVERSATION
    customers = Customer.objects.bulk_create(Customer(site=site) for _ in range(count))
    conversations = Conversation.objects.bulk_create(
        Conversation(site=site, customer=customer, status="resolved", last_seq=MESSAGES_PER_CONVERSATION)
        for customer in customers
    )
    buffer = io.StringIO()
    for conversation in conversations:
        for seq in range(1, MESSAGES_PER_CONVERSATION + 1):
            text = " ".join(random.choices(VOCABULARY, weights=_WEIGHTS, k=random.randint(6, 30)))
            role = "customer" if seq % 2 else "bot"
            buffer.write(f"{conversation.pk}\t{seq}\t{role}\t{text}\t{{}}\tnow\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
            "COPY conversations_message (conversation_id, seq, role, text, extras, created_at) FROM STDIN"
        ) as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        cursor.execute("UPDATE conversations_conversation SET last_message_at = now() - random() * interval '30 days'")
        cursor.execute("ANALYZE conversations_message")
        cursor.execute("ANALYZE conversations_conversation")


def substring_search(agent, term: str) -> list:
    """What the inbox did before: the same scoped list, filtered by a case-insensitive substring
    scan over every message."""
    from django.db.models import Q

    from conversations.inbox.selectors import visible_conversations
    from conversations.models import Conversation

    matches = Q(customer__external_id__icontains=term) | Q(messages__text__icontains=term)
    listed = (
        visible_conversations(agent=agent)
        .filter(last_seq__gt=0)
        .select_related("customer", "assignee", "site", "queue")
    )
    return list(
        listed.filter(pk__in=Conversation.objects.filter(matches).values("pk")).order_by("-last_message_at")[:50]
    )


def fulltext_search(agent, term: str) -> list:
    from conversations.inbox.selectors import ListQuery, inbox_conversations

    return list(inbox_conversations(agent=agent, query=ListQuery(view="all", search=term)))


def timed(function, agent, terms: list[str]) -> tuple[list[float], list[int]]:
    times, hits = [], []
    for term in terms:
        started = time.perf_counter()
        rows = function(agent, term)
        times.append((time.perf_counter() - started) * 1000)
        hits.append(len(rows))
    return times, hits


def bench_size(size: int, queries: int, agent) -> dict:
    started = time.perf_counter()
    load(size)
    load_seconds = time.perf_counter() - started
    rare = [f"word{random.randint(5_000, 19_999)}" for _ in range(queries)]
    common = [f"word{random.randint(0, 20)}" for _ in range(queries)]
    prefixes = [f"word{random.randint(100, 999)}" for _ in range(queries)]  # also a prefix of 10 longer words
    phrases = [f"word{random.randint(0, 200)} word{random.randint(200, 2_000)}" for _ in range(queries)]
    kinds = {"rare_word": rare, "common_word": common, "prefix": prefixes, "two_words": phrases}
    result: dict = {"messages": size, "load_seconds": round(load_seconds, 1), "kinds": {}}
    for kind, terms in kinds.items():
        fulltext_search(agent, terms[0])  # warm the caches for both
        substring_search(agent, terms[0])
        fulltext_ms, fulltext_hits = timed(fulltext_search, agent, terms)
        substring_ms, substring_hits = timed(substring_search, agent, terms)
        result["kinds"][kind] = {
            "fulltext_p50_ms": round(statistics.median(fulltext_ms), 2),
            "fulltext_p95_ms": round(percentile(fulltext_ms, 95), 2),
            "substring_p50_ms": round(statistics.median(substring_ms), 2),
            "substring_p95_ms": round(percentile(substring_ms, 95), 2),
            "speedup_p50": round(statistics.median(substring_ms) / statistics.median(fulltext_ms), 1),
            "median_rows_fulltext": statistics.median(fulltext_hits),
            "median_rows_substring": statistics.median(substring_hits),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "inbox_search.json")
    args = parser.parse_args()

    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench-inbox-search"))
    setup_django()
    from django.contrib.auth import get_user_model

    random.seed(11)
    supervisor, _ = get_user_model().objects.get_or_create(
        username="bench-supervisor", defaults={"is_staff": True, "is_superuser": True}
    )
    result = {"benchmark": "inbox_search", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": []}
    for size in args.sizes:
        result["sizes"].append(bench_size(size, args.queries, supervisor))
        print(json.dumps(result["sizes"][-1]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
