"""Webhook delivery through a real Celery worker to a real local receiver that verifies every
request with the documented snippet: a whole conversation's events, a worker SIGKILLed in the
middle of a request, and a failing endpoint that backs off and opens its circuit breaker.

One worker serves the module (a worker costs seconds to start); the kill test replaces it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from conversations.bot.actions import action_finish
from conversations.chat.conversations import conversation_rate
from conversations.chat.messages import system_message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.services import conversation_request_human, handoff_claim
from conversations.models import ActionCall, Conversation, Message
from supportbot.celery import app as celery_app
from tests.conftest import ORIGIN, start_celery_worker
from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_deliveries_sweep, webhook_endpoint_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# Short everything, so retries and redeliveries happen within seconds.
WORKER_ENV = {
    "CELERY_VISIBILITY_TIMEOUT": "3",
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_BACKOFF_BASE_SECONDS": "0.3",
    "WEBHOOK_BREAKER_FAILURES": "3",
    "WEBHOOK_BREAKER_COOLDOWN_SECONDS": "60",
    "WEBHOOK_MAX_ATTEMPTS": "6",
}


class Worker:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.generation = 0

    def start(self) -> None:
        self.generation += 1
        self.log = self.log_dir / f"worker-{self.generation}.log"
        self.process = start_celery_worker(self.log, name=f"webhooks-{self.generation}", **WORKER_ENV)

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else "no worker log"


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        celery_app.control.purge()
        holder = Worker(tmp_path_factory.mktemp("webhook-workers"))
        holder.start()
    yield holder
    # Killed, not stopped: a warm shutdown takes seconds, and whatever it still holds is a
    # duplicate of a finished delivery, which any later worker drops.
    holder.process.kill()
    holder.process.wait()


@pytest.fixture
def hooks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 0


def _until(predicate, *, timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")
        time.sleep(0.1)


def test_a_conversation_from_created_to_csat_arrives_signed_in_shape_and_only_where_subscribed(
    worker, receiver, hooks, site, bot_site, alice
):
    everything, secret = webhook_endpoint_create(site_id=site.pk, url=receiver.url("/all"), events=EVENT_TYPES)
    _, resolved_secret = webhook_endpoint_create(
        site_id=site.pk, url=receiver.url("/resolved"), events=["conversation.resolved"]
    )
    _, other_secret = webhook_endpoint_create(site_id=bot_site.pk, url=receiver.url("/other-site"), events=EVENT_TYPES)
    receiver.secrets = {"/all": secret, "/resolved": resolved_secret, "/other-site": other_secret}

    conversation = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
    cid = conversation.pk
    customer_message_post(
        conversation_id=cid, text="My tent broke, write to jane.doe@example.com", client_id=uuid.uuid4()
    )
    conversation_request_human(conversation_id=cid)
    handoff_claim(conversation_id=cid, agent=alice)
    agent_message_post(conversation_id=cid, agent=alice, text="Sorry about that! I'll cancel the order.")
    action = ActionCall.objects.create(
        conversation_id=cid,
        tool="cancel_order",
        arguments={"order_number": "SB-100042"},
        summary="Cancel order SB-100042",
        status=ActionCall.Status.EXECUTING,
        idempotency_key=uuid.uuid4().hex,
        customer_id="cust_1",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    action_finish(action_id=action.pk, outcome={"outcome": "succeeded", "http_status": 200, "result": {}})
    conversation_resolve(conversation_id=cid, agent=alice)
    conversation_rate(conversation_id=cid, score=5, comment="Quick and kind, thanks")

    deliveries = WebhookDelivery.objects.filter(endpoint=everything)
    _until(
        lambda: (
            not WebhookDelivery.objects.filter(status="pending").exists()
            and len(receiver.at("/all")) == deliveries.count()
        ),
        timeout=30,
        what="every delivery",
        worker=worker,
    )
    time.sleep(0.3)  # anything extra (a duplicate, another site's event) would show by now
    messages = {m.seq: m for m in Message.objects.filter(conversation_id=cid)}
    expected = len(messages) + 6  # every message, and one of each other event

    received = receiver.at("/all")
    assert all(r.verified for r in received), [r.verify_error for r in received if not r.verified]
    assert len({r.webhook_id for r in received}) == len(received) == expected  # no failures: once each
    assert all(r.webhook_id == r.body["id"] for r in received)
    conversation = Conversation.objects.get(pk=cid)
    assert {r.body["conversation_id"] for r in received} == {str(conversation.public_id)}
    assert {r.body["site"] for r in received} == {site.key}
    by_type = {}
    for r in received:
        by_type.setdefault(r.body["type"], []).append(r.body["data"])
    assert set(by_type) == set(EVENT_TYPES)

    sent_messages = {data["seq"]: data for data in by_type["message.created"]}
    assert set(sent_messages) == set(messages)
    assert all(
        sent_messages[seq]["text"] == m.text and sent_messages[seq]["role"] == m.role for seq, m in messages.items()
    )
    customer_text = next(data["text"] for data in sent_messages.values() if data["role"] == "customer")
    assert "<EMAIL_ADDRESS_1>" in customer_text  # redacted, as stored
    assert all("jane.doe@example.com" not in str(r.body) for r in receiver.received)
    assert next(d for d in sent_messages.values() if d["role"] == "agent")["author"] == {
        "id": alice.pk,
        "name": "Alice",
    }

    assert by_type["conversation.created"] == [{"status": "bot", "customer": {"verified": False, "external_id": None}}]
    [opened] = by_type["handoff.opened"]
    assert opened["reason"] == "customer_request"
    [assigned] = by_type["handoff.assigned"]
    assert (assigned["handoff_id"], assigned["kind"], assigned["agent"]["name"]) == (
        opened["handoff_id"],
        "claimed",
        "Alice",
    )
    [action_event] = by_type["action.executed"]
    assert (action_event["tool"], action_event["status"], action_event["arguments"]) == (
        "cancel_order",
        "succeeded",
        {"order_number": "SB-100042"},
    )
    assert by_type["conversation.resolved"] == [
        {"resolution_reason": "answered", "resolved_by": {"id": alice.pk, "name": "Alice"}}
    ]
    [csat] = by_type["csat.created"]
    assert (csat["score"], csat["comment"], csat["agent_id"]) == (5, "Quick and kind, thanks", alice.pk)

    # Another endpoint gets only what it subscribed to, with the same event id; another site, nothing.
    [resolved] = receiver.at("/resolved")
    assert resolved.verified and resolved.body["type"] == "conversation.resolved"
    assert resolved.webhook_id == next(r.webhook_id for r in received if r.body["type"] == "conversation.resolved")
    assert receiver.at("/other-site") == []
    assert set(WebhookDelivery.objects.filter(endpoint=everything).values_list("status", "attempts")) == {
        ("succeeded", 1)
    }


def test_a_worker_killed_in_the_middle_of_a_request_leaves_each_event_seen_once_after_dedup(
    worker, receiver, hooks, widget_session
):
    conversation = widget_session.conversation
    _, secret = webhook_endpoint_create(
        site_id=conversation.site_id, url=receiver.url("/hold"), events=["message.created"]
    )
    receiver.secrets = {"/hold": secret}
    doomed = worker.process
    killed: list[str] = []

    def kill_on_first(request) -> None:
        # The request has arrived and its sender waits for the answer: the worker dies right there.
        if not killed:
            killed.append(request.webhook_id)
            os.kill(doomed.pid, signal.SIGKILL)

    receiver.on_request = kill_on_first
    for text in ("first", "second", "third"):
        system_message_post(conversation_id=conversation.pk, text=text)
    receiver.wait_for(lambda: bool(killed), timeout=30, what="the first request")
    assert doomed.wait(timeout=10) == -signal.SIGKILL
    worker.start()  # its broker connection hands it the dead worker's unacknowledged task

    deliveries = WebhookDelivery.objects.filter(endpoint__url=receiver.url("/hold"))
    _until(
        lambda: set(deliveries.values_list("status", flat=True)) == {"succeeded"},
        timeout=40,
        what="all three delivered",
        worker=worker,
    )
    event_ids = set(deliveries.values_list("event_id", flat=True))
    received = receiver.at("/hold")
    assert all(r.verified for r in received)
    assert {r.webhook_id for r in received} == event_ids and len(event_ids) == 3
    # The interrupted event came twice under the same id (the receiver's dedup keeps one); the others once.
    counts = {event_id: [r.webhook_id for r in received].count(event_id) for event_id in event_ids}
    assert counts == {event_id: 2 if event_id == killed[0] else 1 for event_id in event_ids}
    bodies = [r.body for r in received if r.webhook_id == killed[0]]
    assert bodies[0] == bodies[1]
    assert deliveries.get(event_id=killed[0]).attempts == 2


def test_a_failing_endpoint_is_retried_with_growing_waits_then_its_breaker_opens_and_deliveries_wait(
    worker, receiver, hooks, widget_session
):
    conversation = widget_session.conversation
    endpoint, secret = webhook_endpoint_create(
        site_id=conversation.site_id, url=receiver.url("/flaky"), events=["message.created"]
    )
    receiver.secrets = {"/flaky": secret}
    receiver.status["/flaky"] = 503
    system_message_post(conversation_id=conversation.pk, text="first")
    first = WebhookDelivery.objects.get(endpoint=endpoint)

    receiver.wait_for(lambda: len(receiver.at("/flaky")) >= 3, timeout=20, what="three failed attempts")

    def waits_for_the_breaker() -> bool:
        open_until = WebhookEndpoint.objects.get(pk=endpoint.pk).circuit_open_until
        return open_until is not None and (
            WebhookDelivery.objects.get(pk=first.pk).next_attempt_at >= open_until - timedelta(seconds=1)
        )

    _until(waits_for_the_breaker, timeout=10, what="the delivery to wait for the breaker", worker=worker)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3 and endpoint.circuit_open_until > timezone.now() + timedelta(seconds=50)
    first.refresh_from_db()
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 3, 503)
    # The waits double (0.3, 0.6, 1.2 s, +-20 % jitter), and each was waited before the next try.
    waits = [entry["retry_in"] for entry in first.history]
    assert [entry["status_code"] for entry in first.history] == [503, 503, 503]
    assert 0.24 <= waits[0] <= 0.36 and 0.48 <= waits[1] <= 0.72 and 0.96 <= waits[2] <= 1.44, waits
    arrivals = [r.at for r in receiver.at("/flaky")]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert all(gap >= wait - 0.1 for gap, wait in zip(gaps, waits)), (gaps, waits)

    # While the breaker is open nothing is sent, and new events wait too (not dropped, no attempt counted).
    system_message_post(conversation_id=conversation.pk, text="second")
    second = WebhookDelivery.objects.exclude(pk=first.pk).get(endpoint=endpoint)
    _until(
        lambda: WebhookDelivery.objects.get(pk=second.pk).next_attempt_at > timezone.now() + timedelta(seconds=30),
        timeout=10,
        what="the second delivery to be deferred",
        worker=worker,
    )
    assert len(receiver.at("/flaky")) == 3
    assert WebhookDelivery.objects.get(pk=second.pk).attempts == 0

    # The receiver recovers and the cool-down ends: one trial, then everything that waited.
    receiver.status["/flaky"] = 200
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(circuit_open_until=timezone.now() - timedelta(seconds=1))
    WebhookDelivery.objects.filter(endpoint=endpoint).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert len(webhook_deliveries_sweep()) == 1  # the trial alone

    swept = [time.monotonic()]

    def all_delivered() -> bool:
        if set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {"succeeded"}:
            return True
        if time.monotonic() - swept[-1] > 0.5:
            swept.append(time.monotonic())
            webhook_deliveries_sweep()  # what beat does every 10 s
        return False

    _until(all_delivered, timeout=20, what="the waiting deliveries after the trial", worker=worker)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.circuit_open_until) == (0, None)
    ids = [r.webhook_id for r in receiver.at("/flaky")]
    assert ids.count(first.event_id) == 4 and ids.count(second.event_id) == 1
    assert all(r.verified for r in receiver.at("/flaky"))
