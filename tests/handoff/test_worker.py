"""The handoff workflow in a real Celery worker process: end to end from the customer's
request to "<agent> joined" on the customer's socket, and a worker SIGKILLed in the middle of
assignment whose task is redelivered and assigns exactly once."""

from __future__ import annotations

import os
import signal
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from conversations.handoff.services import handoff_open
from conversations.models import AgentProfile, Conversation, Handoff, HandoffEvent, Message
from supportbot.celery import app as celery_app
from tests.bot_support import Chat, opened
from tests.conftest import start_celery_worker, stop
from tests.handoff.conftest import online

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _wait(predicate, *, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 200) FROM pg_stat_activity "
                    "WHERE datname = current_database()"
                )
                activity = cursor.fetchall()
            with celery_app.connection_for_write() as conn:
                client = conn.default_channel.client
                activity.append(("redis", client.llen("celery"), client.hlen("unacked"), client.keys("*")[:20]))
            raise AssertionError(f"{activity}\n" + (log.read_text()[-3000:] if log.exists() else "no worker log"))
        time.sleep(0.2)


async def test_a_request_for_a_human_reaches_an_online_agent_through_the_worker(site, billing, alice, tmp_path):
    await sync_to_async(online)(alice)
    celery_app.control.purge()
    log = tmp_path / "worker.log"
    worker = start_celery_worker(log, name="handoff-e2e")
    try:
        session = await opened(site)
        async with Chat(session) as chat:
            await chat.say("I need a refund for a broken tent")
            await chat.send({"type": "request_human"})
            queued = await chat.wait_for(lambda f: f["type"] == "status" and f["conversation_status"] == "queued")
            assert queued["queue_position"] == 1
            joined = await chat.wait_for(
                lambda f: f["type"] == "message" and f["text"] == "Alice joined the conversation.", timeout=60
            )
            status = await chat.wait_for(lambda f: f["type"] == "status" and f["conversation_status"] == "human")
    finally:
        stop(worker)
    assert joined["role"] == "system" and status["agent"] == "Alice"
    handoff = await sync_to_async(Handoff.objects.select_related("queue", "assignee").get)(
        conversation=session.conversation
    )
    assert (handoff.queue.name, handoff.assignee.username, handoff.reason) == ("Billing", "alice", "customer_request")
    assert "broken tent" in handoff.summary


def _blocked_backends() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction pg_stat_activity is a snapshot taken at first use; drop it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_in_the_middle_of_assignment_is_redelivered_and_assigns_exactly_once(
    widget_session, general, bob, tmp_path
):
    online(bob)
    celery_app.control.purge()
    log = tmp_path / "worker.log"
    # Redelivery waits for the broker's visibility timeout; a short one keeps the test quick.
    first = start_celery_worker(log, name="doomed", CELERY_VISIBILITY_TIMEOUT="3")
    try:
        with transaction.atomic():
            # Hold Bob's profile row: the worker's assignment step locks it, so it stops right
            # there, in the middle of assigning, with the handoff row already locked.
            AgentProfile.objects.select_for_update().get(user=bob)
            handoff = _open_and_commit(widget_session.conversation.pk)
            _wait(lambda: _blocked_backends() >= 1, timeout=60, log=log)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert Handoff.objects.get(pk=handoff.pk).assignee is None  # the killed step changed nothing
    finally:
        stop(first)

    second = start_celery_worker(log, name="survivor", CELERY_VISIBILITY_TIMEOUT="3")
    try:
        _wait(lambda: Handoff.objects.get(pk=handoff.pk).assignee_id == bob.pk, timeout=90, log=log)
        _wait(lambda: Handoff.objects.get(pk=handoff.pk).notified_at is not None, timeout=30, log=log)
    finally:
        stop(second)
    assert HandoffEvent.objects.filter(handoff_id=handoff.pk, kind="assigned").count() == 1
    texts = list(
        Message.objects.filter(conversation=widget_session.conversation, role="system").values_list("text", flat=True)
    )
    assert texts.count("Bob joined the conversation.") == 1
    assert Conversation.objects.get(pk=widget_session.conversation.pk).status == "human"


def _open_and_commit(conversation_id: int) -> Handoff:
    """handoff_open in its own connection's transaction, so it commits (and enqueues the workflow)
    while the test's transaction keeps holding the lock."""
    import threading

    result: dict = {}

    def run() -> None:
        try:
            result["handoff"] = handoff_open(conversation_id=conversation_id, reason="customer_request")
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return result["handoff"]


async def test_the_transcript_is_emailed_from_the_worker_with_only_the_customers_own_values(
    site, shop, alice, tmp_path, settings
):
    from conversations.flows.messages import agent_message_post
    from conversations.handoff.resolution import conversation_resolve
    from demoshop.models import ShopCustomer

    celery_app.control.purge()
    outbox = tmp_path / "outbox"
    log = tmp_path / "worker.log"
    worker = start_celery_worker(log, name="mailer", EMAIL_FILE_PATH=str(outbox))
    try:
        account_email = (await ShopCustomer.objects.aget(external_id="cust_1001")).email
        session = await opened(site, customer_id="cust_1001")
        async with Chat(session) as chat:
            await chat.say("Hi, I'm at +1 415 555 0134 if that helps; the mail linked https://evil.example/pay")
            await chat.wait_for(lambda f: f["type"] == "ack")
            await sync_to_async(agent_message_post)(
                conversation_id=session.conversation.pk,
                agent=alice,
                text="My colleague at +1 212 555 0199 will call you.",
            )
            await sync_to_async(conversation_resolve)(conversation_id=session.conversation.pk, agent=alice)
            await chat.send({"type": "transcript", "email": "jo.customer@example.com"})  # not the account's
            error = await chat.wait_for(lambda f: f["type"] == "error")
            assert error["code"] == "not_verified"
            await chat.send({"type": "transcript", "email": account_email})
            await chat.send({"type": "transcript", "email": "not an email"})
            error = await chat.wait_for(lambda f: f["type"] == "error")
        assert error["code"] == "bad_frame"
        _wait(lambda: outbox.exists() and any(outbox.iterdir()), timeout=60, log=log)
    finally:
        stop(worker)
    mail = "".join(p.read_text() for p in outbox.iterdir())
    assert f"To: {account_email}" in mail and "jo.customer@example.com" not in mail
    assert "hxxps://evil[.]example/pay" in mail and "https://evil" not in mail  # links defanged
    assert "+1 415 555 0134" in mail  # the customer's own value
    assert "<PHONE_NUMBER_2>" in mail and "212 555" not in mail  # someone else's stays redacted
    assert "Alice: My colleague" in mail
