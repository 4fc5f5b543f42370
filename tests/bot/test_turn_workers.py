"""The bot turn's embedding and reply scan in the model workers (supportbot/llm/workers.py): the
same vectors and spans as in-process, and a dead or stuck worker gives a prompt, clear error (the
turn apologises and hands off), never a hang, after which the pool serves again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from conversations.bot.runner import TURN_FAILED_REPLY, turn_drive
from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Message
from guardrails.pii.engine import get_detector
from guardrails.pii.pool import model_workers_start
from guardrails.redaction import text_patterns_async
from supportbot.llm import workers
from supportbot.llm.embeddings import embed_async, embed_batches, embedding_worker_load, local_minilm
from supportbot.llm.workers import ModelWorkers, ModelWorkersUnavailable, WorkersConfig, workers_call
from tests.bot_support import open_session

pytestmark = [pytest.mark.timeout(120)]

TEXTS = ["How much does shipping cost?", "retrun policy?", "do expres orders ship the same day? " * 8]


@pytest.fixture(scope="module")
def lone_worker():
    """A pool of one worker that only embeds (quick to start), for the tests that stop or kill it."""
    pool = ModelWorkers(WorkersConfig(processes=1, initializer=embedding_worker_load, initargs=(32,)))
    pool.warm(embed_batches, ["warm up"])
    yield pool
    for pid in pool.worker_pids():
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    pool.shutdown()


def _stopped(pool: ModelWorkers) -> list[int]:
    pids = pool.worker_pids()
    assert pids, "the pool has no worker running"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


@pytest.mark.django_db(transaction=True)
async def test_the_workers_embed_and_scan_a_turn_as_the_web_process_would():
    assert await sync_to_async(model_workers_start)() is not None, "the tests run with model workers"
    alone = np.array(await sync_to_async(local_minilm().encode)(TEXTS))
    # Concurrent turns' texts leave as one batch (padded to the longest): same vectors.
    together = await asyncio.gather(*(embed_async([text]) for text in TEXTS), embed_async(TEXTS))
    for n, text in enumerate(TEXTS):
        assert np.array(together[n][0]) == pytest.approx(alone[n], abs=1e-5)
    assert np.array(together[-1]) == pytest.approx(alone, abs=1e-5)
    reply = "Call us on 555-201-7788 or write to help@example.com [1]"
    assert await text_patterns_async(text=reply) == get_detector().detect_patterns(reply)


@pytest.mark.django_db(transaction=True)
async def test_a_turn_whose_model_workers_are_stuck_apologises_and_hands_off(bot_site, lone_worker, monkeypatch):
    monkeypatch.setattr(workers, "WORKER_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(workers, "_pool", lone_worker)  # this process's pool, as a web process has one
    session = await sync_to_async(open_session)(bot_site)
    conversation_id = session.conversation.pk
    await sync_to_async(customer_message_post)(
        conversation_id=conversation_id, text="How much does shipping cost?", client_id=uuid.uuid4()
    )
    pids = _stopped(lone_worker)
    try:
        started = time.monotonic()
        await turn_drive(conversation_id)
        elapsed = time.monotonic() - started
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert elapsed < 10
    reply = await sync_to_async(Message.objects.get)(conversation_id=conversation_id, role="bot")
    assert reply.text == str(TURN_FAILED_REPLY)
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.handoff_reason == Conversation.HandoffReason.TOOL_FAILURE
    # The abandoned batch finishes in the background and the only worker is free again: a
    # timed-out call must not keep its slot.
    monkeypatch.setattr(workers, "WORKER_TIMEOUT_SECONDS", 30.0)
    vectors = await workers_call(lone_worker, embed_batches, TEXTS[:1])
    assert np.array(vectors[0]) == pytest.approx(np.array(local_minilm().encode(TEXTS[:1])[0]), abs=1e-5)


async def test_a_worker_killed_mid_batch_fails_the_call_at_once_and_is_replaced(lone_worker):
    (pid,) = _stopped(lone_worker)
    call = asyncio.ensure_future(workers_call(lone_worker, embed_batches, TEXTS))
    await asyncio.sleep(0.2)  # the batch is with the stopped worker
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ModelWorkersUnavailable):
        await call
    assert time.monotonic() - started < 5, "a dead worker must not wait out the timeout"
    assert len(await workers_call(lone_worker, embed_batches, TEXTS)) == len(TEXTS)  # a new worker
    assert lone_worker.worker_pids() and pid not in lone_worker.worker_pids()
