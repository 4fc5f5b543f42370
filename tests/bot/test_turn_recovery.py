"""A turn left unfinished by a dead process is re-run by the Celery worker (the beat task
`recover_stalled_turns`), never silently dropped; one turn at a time per conversation."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.bot.runner import turn_lease_claim, turn_lease_pass
from conversations.bot.tasks import recover_stalled_turns
from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Message
from tests.bot_support import open_session
from tests.conftest import start_celery_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_a_turn_whose_process_died_is_re_run_by_the_worker(bot_site, articles, tmp_path):
    session = open_session(bot_site)
    conversation_id = session.conversation.pk
    customer_message_post(
        conversation_id=conversation_id,
        text="How long do I have to return something for a refund?",
        client_id=uuid.uuid4(),
    )
    # A process claimed the turn and died: its lease is still there, then expires.
    assert turn_lease_claim(conversation_id=conversation_id, owner="dead-host:123") is not None
    assert turn_lease_claim(conversation_id=conversation_id, owner="another:1") is None  # one turn at a time
    Conversation.objects.filter(pk=conversation_id).update(
        bot_lease_until=timezone.now() - timedelta(seconds=1),
        last_customer_message_at=timezone.now() - timedelta(minutes=1),
    )

    worker = start_celery_worker(tmp_path / "worker.log", name="recovery-test")
    try:
        recover_stalled_turns.delay()
        deadline = time.monotonic() + 90
        while not Message.objects.filter(conversation_id=conversation_id, role="bot").exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
    finally:
        stop(worker)
    reply = Message.objects.get(conversation_id=conversation_id, role="bot")
    assert "30 days" in reply.text and reply.extras["citations"][0]["title"] == "Returns and refunds"
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.bot_answered_seq == 1 and conversation.bot_lease_until is None


def test_after_a_turn_the_lease_is_kept_for_waiting_messages_and_released_when_none_wait(bot_site):
    session = open_session(bot_site)
    conversation_id = session.conversation.pk

    def ask(text: str) -> None:
        customer_message_post(conversation_id=conversation_id, text=text, client_id=uuid.uuid4())

    def answered_up_to(seq: int) -> None:
        Conversation.objects.filter(pk=conversation_id).update(bot_answered_seq=seq)

    ask("How long does shipping take?")
    assert turn_lease_claim(conversation_id=conversation_id, owner="web:1") == 1
    ask("And to Canada?")  # arrives while the first turn runs
    answered_up_to(1)
    assert turn_lease_pass(conversation_id=conversation_id, owner="web:1") == 2  # kept: one more to answer
    assert turn_lease_claim(conversation_id=conversation_id, owner="web:2") is None
    assert turn_lease_pass(conversation_id=conversation_id, owner="web:2") is None  # not its lease to pass
    assert Conversation.objects.get(pk=conversation_id).bot_lease_owner == "web:1"

    answered_up_to(2)
    assert turn_lease_pass(conversation_id=conversation_id, owner="web:1") is None  # nothing waits: released
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.bot_lease_owner == "" and conversation.bot_lease_until is None
    ask("Thanks, one more thing")
    assert turn_lease_claim(conversation_id=conversation_id, owner="web:2") == 3


def test_the_claim_reads_the_turn_it_claims_and_only_that(bot_site):
    """The lease claim's trip also reads the turn's input and texts (one trip to the thread pool
    fewer before the model's first token): the messages up to the claimed seq, nothing for a
    claim that failed, and the next turn's own messages when the lease is passed on."""
    from conversations.bot.runner import turn_lease_claim_and_start, turn_lease_pass_and_start

    session = open_session(bot_site)
    conversation_id = session.conversation.pk
    customer_message_post(conversation_id=conversation_id, text="How long does shipping take?", client_id=uuid.uuid4())

    seq, start = turn_lease_claim_and_start(conversation_id=conversation_id, owner="web:1")
    assert seq == 1 and start is not None
    assert start.loaded.question == "How long does shipping take?" and start.loaded.up_to_seq == 1
    assert "How long does shipping take?" in start.texts.embedded
    assert turn_lease_claim_and_start(conversation_id=conversation_id, owner="web:2") == (None, None)

    customer_message_post(conversation_id=conversation_id, text="and to Canada?", client_id=uuid.uuid4())
    Conversation.objects.filter(pk=conversation_id).update(bot_answered_seq=1)
    seq, start = turn_lease_pass_and_start(conversation_id=conversation_id, owner="web:1")
    assert seq == 2 and start is not None
    assert start.loaded.question == "and to Canada?"
    assert start.loaded.history == [("customer", "How long does shipping take?")]
    # A follow-up is searched with the question it follows (turn_texts), read in the same trip.
    assert "shipping" in start.texts.search_text
