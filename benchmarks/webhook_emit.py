"""What webhooks add to posting a message (the chat's hot path), against the same post with the
emit call removed, measured in the same run, interleaved in rounds so load drift hits all alike.

Cases: baseline (emit removed); nobody subscribed (the common case: one cache read); another
site subscribed (the cache read, and the conversation's site from the per-process memo); this
site subscribed (plus the endpoint query, the delivery insert and the task sent after commit; no
worker runs, so tasks just queue). Prints medians in microseconds and their ratio to the baseline.

    .venv/bin/python benchmarks/webhook_emit.py

It runs on embedded Postgres and Redis of its own (.data/bench-webhooks, or SUPPORTBOT_DATA_DIR)
and refuses DATABASE_URL / REDIS_URL: it deletes its endpoints and deliveries and empties the
Celery queue it filled, which must never happen to someone else's services.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for variable in ("DATABASE_URL", "REDIS_URL"):
    if os.environ.get(variable):
        sys.exit(f"webhook_emit.py runs on embedded services of its own: unset {variable}")
os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench-webhooks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from conversations.chat import messages  # noqa: E402
from conversations.core.events import collecting_events  # noqa: E402
from conversations.models import Conversation, Customer, WidgetSite  # noqa: E402
from supportbot.celery import app as celery_app  # noqa: E402
from webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402
from webhooks.selectors import webhook_subscriptions_invalidate  # noqa: E402
from webhooks.services import webhook_endpoint_create, webhook_events_enqueue  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
POSTS = int(os.environ.get("POSTS", "200"))
BENCH_SITES = ["bench-quiet", "bench-other", "bench-subscribed"]


def conversation(key: str) -> Conversation:
    site, _ = WidgetSite.objects.get_or_create(key=key, defaults={"name": key})
    return Conversation.objects.create(site=site, customer=Customer.objects.create(site=site))


def _post(conversation_id: int, n: int) -> float:
    # As the chat socket does: channel-layer events are collected, and sent from its loop later.
    with collecting_events():
        started = time.perf_counter()
        messages.system_message_post(conversation_id=conversation_id, text=f"status update {n}")
        return (time.perf_counter() - started) * 1e6


def paired(conversation_id: int, real_emit) -> tuple[list[float], list[float]]:  # noqa: ANN001
    """Posts with and without the emit call in pairs (which goes first alternates), so both see the same load."""
    without, with_emit = [], []
    for n in range(POSTS):
        for emitting in (False, True) if n % 2 else (True, False):
            messages.webhook_events_enqueue = real_emit if emitting else (lambda **kwargs: [])
            (with_emit if emitting else without).append(_post(conversation_id, n))
    messages.webhook_events_enqueue = real_emit
    return without, with_emit


def emit_alone(conversation_id: int) -> list[float]:
    samples = []
    for n in range(POSTS):
        started = time.perf_counter()
        webhook_events_enqueue(conversation_id=conversation_id, event="message.created", payload={"seq": n})
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def main() -> None:
    call_command("migrate", verbosity=0)
    WebhookEndpoint.objects.filter(site__key__in=BENCH_SITES).delete()
    webhook_subscriptions_invalidate()  # a queryset delete sends no signal
    quiet, other, subscribed = (conversation(key) for key in BENCH_SITES)
    cases = ["nobody subscribed", "another site subscribed", "this site subscribed"]
    samples: dict[str, dict[str, list[float]]] = {case: {"without": [], "with": [], "emit": []} for case in cases}
    real_emit = messages.webhook_events_enqueue
    for _round in range(ROUNDS):
        WebhookEndpoint.objects.filter(site__key__in=BENCH_SITES).delete()
        webhook_subscriptions_invalidate()
        for case, target in zip(cases, (quiet, quiet, subscribed)):
            if case == "another site subscribed":
                webhook_endpoint_create(site_id=other.site_id, url="http://127.0.0.1:9/in", events=["message.created"])
            if case == "this site subscribed":
                webhook_endpoint_create(
                    site_id=subscribed.site_id, url="http://127.0.0.1:9/in", events=["message.created"]
                )
            without, with_emit = paired(target.pk, real_emit)
            samples[case]["without"] += without
            samples[case]["with"] += with_emit
            samples[case]["emit"] += emit_alone(target.pk)
    messages.webhook_events_enqueue = real_emit
    result: dict = {}
    for case, values in samples.items():
        base, real = statistics.median(values["without"]), statistics.median(values["with"])
        result[case] = {
            "post_without_emit_median_us": round(base, 1),
            "post_median_us": round(real, 1),
            "ratio": round(real / base, 3),
            "emit_call_alone_median_us": round(statistics.median(values["emit"]), 1),
            "posts": len(values["with"]),
        }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    WebhookDelivery.objects.filter(endpoint__site__key__in=BENCH_SITES).delete()
    celery_app.control.purge()  # the deliveries this run queued, on its own embedded Redis


if __name__ == "__main__":
    main()
