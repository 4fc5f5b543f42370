"""Retention benchmark (not a test): how fast the purge deletes old conversations (folding their
metrics into the daily aggregates), what the aggregates cost the metrics page, and how long a
data-subject lookup by email takes (one keyed digest per conversation with an email in its vault).

Synthetic resolved conversations (10 messages, one vault entry with an email, one handoff with a
first response, a rating on every other one), most of them 40 days old on a site keeping 30 days,
the rest recent; in a database of its own (.data/bench-retention). The metrics page's figures
are compared before and after the purge (they must be equal).

    .venv/bin/python benchmarks/retention.py [--conversations 5000] [--recent 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench-retention"))

from benchmarks.chat_transport import setup_django  # noqa: E402

MESSAGES_PER_CONVERSATION = 10


def load(*, old: int, recent: int) -> tuple[int, str]:
    """Bulk-loaded (row by row through the services would take minutes per thousand)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from conversations.models import Conversation, CsatRating, Customer, Handoff, Message, WidgetSite
    from guardrails.models import PiiVaultEntry
    from guardrails.pii.vault import _digests, _keys

    WidgetSite.objects.filter(key="bench-retention").delete()
    site = WidgetSite.objects.create(key="bench-retention", name="Bench retention", retention_days=30)
    agent, _ = get_user_model().objects.get_or_create(username="bench-agent", defaults={"first_name": "Bench"})
    fernet, _ = _keys()
    now = timezone.now()
    total = old + recent
    customers = Customer.objects.bulk_create(Customer(site=site) for _ in range(total))
    conversations = Conversation.objects.bulk_create(
        Conversation(
            site=site,
            customer=customer,
            status="resolved",
            last_seq=MESSAGES_PER_CONVERSATION,
            resolution_reason="answered",
        )
        for customer in customers
    )
    for start in range(0, total, 1000):
        batch = conversations[start : start + 1000]
        Message.objects.bulk_create(
            Message(
                conversation=c,
                seq=seq,
                role="customer" if seq % 2 else "bot",
                text=f"message {seq} about <EMAIL_ADDRESS_1>",
                extras={} if seq % 2 else {"answered": seq % 4 == 0},
            )
            for c in batch
            for seq in range(1, MESSAGES_PER_CONVERSATION + 1)
        )
        PiiVaultEntry.objects.bulk_create(
            PiiVaultEntry(
                conversation=c,
                placeholder="<EMAIL_ADDRESS_1>",
                entity_type="EMAIL_ADDRESS",
                digest=_digests(c.pk, "EMAIL_ADDRESS", f"customer{start + i}@example.org")[0],
                ciphertext=fernet.encrypt(f"customer{start + i}@example.org".encode()),
                expires_at=now + timedelta(days=30),
            )
            for i, c in enumerate(batch)
        )
    Handoff.objects.bulk_create(
        Handoff(conversation=c, reason="customer_request", status="resolved", assignee=agent) for c in conversations
    )
    CsatRating.objects.bulk_create(
        CsatRating(conversation=c, resolved_at=now, agent=agent, score=1 + i % 5)
        for i, c in enumerate(conversations)
        if i % 2 == 0
    )
    first_old, last_old = conversations[0].pk, conversations[old - 1].pk
    tables = {model: model._meta.db_table for model in (Conversation, Customer, Message, Handoff, CsatRating)}
    with connection.cursor() as cursor:
        # Old ones 40 days back, recent ones 2; a per-row spread of minutes so the medians are real.
        cursor.execute(
            f"""UPDATE {tables[Conversation]} SET
            created_at = %(now)s - (CASE WHEN id <= %(last_old)s THEN 40 ELSE 2 END) * interval '1 day'
                         - (id %% 600) * interval '1 minute',
            last_message_at = created_at, updated_at = created_at, resolved_at = created_at
            WHERE site_id = %(site)s""",
            {"now": now, "last_old": last_old, "site": site.pk},
        )
        cursor.execute(
            f"""UPDATE {tables[Conversation]} SET last_message_at = created_at,
            updated_at = created_at + (id %% 50 + 5) * interval '1 minute',
            resolved_at = created_at + (id %% 50 + 5) * interval '1 minute' WHERE site_id = %s""",
            [site.pk],
        )
        cursor.execute(
            f"""UPDATE {tables[Customer]} cu SET last_seen_at = c.created_at
            FROM {tables[Conversation]} c WHERE c.customer_id = cu.id AND c.site_id = %s""",
            [site.pk],
        )
        cursor.execute(
            f"""UPDATE {tables[Message]} m SET created_at = c.created_at
            FROM {tables[Conversation]} c WHERE m.conversation_id = c.id AND c.site_id = %s""",
            [site.pk],
        )
        cursor.execute(
            f"""UPDATE {tables[Handoff]} h SET created_at = c.created_at,
            first_response_at = c.created_at + (h.id %% 300 + 30) * interval '1 second', closed_at = c.resolved_at
            FROM {tables[Conversation]} c WHERE h.conversation_id = c.id AND c.site_id = %s""",
            [site.pk],
        )
        cursor.execute(
            f"""UPDATE {tables[CsatRating]} r SET resolved_at = c.resolved_at
            FROM {tables[Conversation]} c WHERE r.conversation_id = c.id AND c.site_id = %s""",
            [site.pk],
        )
    assert Conversation.objects.filter(site=site, pk__lte=last_old, pk__gte=first_old).count() == old
    return site.pk, f"customer{old // 2}@example.org"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=5000, help="old conversations (purged)")
    parser.add_argument("--recent", type=int, default=1000, help="recent conversations (kept)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "retention.json")
    args = parser.parse_args()
    setup_django()
    from conversations.models import ArchivedMetricsDay, Conversation, WidgetSite
    from conversations.privacy.retention import conversations_purge_expired
    from conversations.privacy.subjects import data_subject_find
    from conversations.reports.metrics import metrics_compute

    ArchivedMetricsDay.objects.all().delete()  # an earlier run's purged conversations
    started = time.perf_counter()
    site_id, email = load(old=args.conversations, recent=args.recent)
    load_seconds = time.perf_counter() - started
    site = WidgetSite.objects.get(pk=site_id)

    def timed(function, repeats: int) -> tuple[float, object]:
        durations, result = [], None
        for _ in range(repeats):
            began = time.perf_counter()
            result = function()
            durations.append(time.perf_counter() - began)
        return statistics.median(durations), result

    lookup_seconds, subject = timed(lambda: data_subject_find(site=site, identifier=email), args.repeats)
    assert len(subject.customer_ids) == 1, subject
    metrics_before_seconds, before = timed(lambda: metrics_compute(days=90), args.repeats)
    began = time.perf_counter()
    purged = conversations_purge_expired()
    purge_seconds = time.perf_counter() - began
    metrics_after_seconds, after = timed(lambda: metrics_compute(days=90), args.repeats)
    assert after == before, "the metrics changed with the purge"
    assert Conversation.objects.filter(site=site).count() == args.recent
    result = {
        "old_conversations": args.conversations,
        "recent_conversations": args.recent,
        "messages_per_conversation": MESSAGES_PER_CONVERSATION,
        "load_seconds": round(load_seconds, 1),
        "purged": purged.conversations,
        "purge_seconds": round(purge_seconds, 2),
        "purged_conversations_per_second": round(purged.conversations / purge_seconds, 1),
        "email_lookup_median_ms": round(lookup_seconds * 1000, 1),
        "metrics_90_days_median_ms_before": round(metrics_before_seconds * 1000, 1),
        "metrics_90_days_median_ms_after": round(metrics_after_seconds * 1000, 1),
        "metrics_equal_after_purge": after == before,
        "load_average": os.getloadavg(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
