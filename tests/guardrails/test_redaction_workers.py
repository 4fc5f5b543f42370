"""PII detection in the model workers (guardrails/pii/pool.py): a slow message holds up no
other socket, concurrent messages detected in batches get the same spans as one by one, and the
workers of a web process killed outright do not outlive it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from conversations.chat.widget_sessions import widget_session_open
from conversations.models import Message
from guardrails.pii.engine import get_detector
from guardrails.pii.pool import detect_batch, model_workers_start, model_workers_warm, spans_from
from tests.conftest import ORIGIN, PROJECT_ROOT
from tests.conversations.test_chat_protocol import connected, frames_until, send_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

# Dense with names, addresses, phones and emails: the costliest text to detect in, at the largest
# size a message may have.
_UNIT = (
    "Hi, this is Maria Gonzalez from 42 Elm Street, Springfield; call me on 555-201-7788 or mail "
    "maria.gonzalez@example.com. "
)


def _huge_message() -> str:
    return (_UNIT * (settings.CHAT_MAX_MESSAGE_CHARS // len(_UNIT) + 1))[: settings.CHAT_MAX_MESSAGE_CHARS]


async def test_a_huge_message_being_redacted_holds_up_no_other_socket(site):
    assert settings.PII_REDACTION_PROCESSES >= 2, "the isolation needs two or more workers"
    pool = model_workers_start()
    assert pool is not None
    await sync_to_async(model_workers_warm)(pool)
    pasting_session = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    pasting = await connected(pasting_session)
    chatting = await connected(await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN))

    async def round_trip(comm, text: str) -> float:
        started = time.perf_counter()
        client_id = await send_message(comm, text)
        await frames_until(comm, lambda f: f.get("type") == "ack" and f["client_id"] == client_id, timeout=60)
        return time.perf_counter() - started

    baseline = [await round_trip(chatting, f"Where is my order A12{n}?") for n in range(3)]

    huge = asyncio.create_task(round_trip(pasting, _huge_message()))
    await asyncio.sleep(0)  # the huge frame is in the consumer before the short ones are sent
    during, finished_before_huge = [], []
    for n in range(3):
        during.append(await round_trip(chatting, f"And order B34{n}?"))
        finished_before_huge.append(not huge.done())
    huge_seconds = await huge

    # Ordering, not absolute time: every short round trip completed while the huge message (about
    # 35 times a short one's detection CPU) was still being redacted. With one worker, or with
    # detection in the web process, the first short message would wait behind it.
    assert all(finished_before_huge), (baseline, during, huge_seconds)
    assert sum(during) < huge_seconds
    stored = await sync_to_async(Message.objects.get)(conversation=pasting_session.conversation, seq=1)
    assert "<PERSON_1>" in stored.text and "maria.gonzalez@example.com" not in stored.text
    for comm in (pasting, chatting):
        await comm.disconnect()


def test_the_workers_detect_a_batch_as_the_detector_does_one_by_one():
    pool = model_workers_start()
    assert pool is not None
    texts = [
        "Where is my order A1234?",
        "I'm Ann Lee, reach me at ann.lee@example.com or 555-201-7788",
        "Ship it to 221B Baker Street, London NW1 6XE please",
        "",
        "card 4111 1111 1111 1111, thanks",
        *[f"Hello, John Smith here about order SB-10004{n}" for n in range(20)],
    ]
    futures = [pool.submit(detect_batch, text) for text in texts]  # more than the workers: they queue and batch
    assert [spans_from(f.result(timeout=120)) for f in futures] == [get_detector().detect(text) for text in texts]


# A stand-in for a web process: it starts a pool, prints its pid once the workers are up, and
# waits. The watch that ends a worker with its parent is the pool's own (supportbot/llm/workers.py),
# whatever the workers load: these load nothing, so the test does not wait for two models.
_POOL_OWNER = """
import os, sys, time
from supportbot.llm.workers import WorkersConfig, workers_start
pool = workers_start(WorkersConfig(processes=2, initializer=time.sleep, initargs=(0,)))
pool.warm(list, "warm up")
print(os.getpid(), flush=True)
sys.stdin.read()
"""


@pytest.mark.django_db(transaction=False)
def test_the_workers_of_a_web_process_killed_outright_exit_with_it():
    owner = subprocess.Popen(
        [sys.executable, "-c", _POOL_OWNER],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout.readline().strip() == str(owner.pid)
        workers = [
            p for p in psutil.Process(owner.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2
        os.kill(owner.pid, signal.SIGKILL)  # no shutdown: what a crash or the OOM killer does
        owner.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"orphaned model workers: {[p.pid for p in alive]}"
    finally:
        owner.kill()
