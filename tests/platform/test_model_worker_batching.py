"""The model workers' dispatch rule (supportbot/llm/workers.py): one short batch at a time, so
items arriving while it runs leave together after it instead of waking a second worker; a long
batch lets the items behind it go to another worker at once (the isolation the second worker is
for). Real worker processes, with a job that records where and when each batch ran."""

from __future__ import annotations

import os
import time
from concurrent.futures import wait

import pytest

from supportbot.llm.workers import LONG_BATCH_CHARS, ModelWorkers, WorkersConfig

pytestmark = pytest.mark.timeout(120)

BATCH_SECONDS = 0.3


def no_models() -> None:
    """The workers' initializer: nothing to load."""


def record_batch(payloads: list[str]) -> list[tuple[int, float, float, int]]:
    """Each payload's (worker pid, batch start, batch end, batch size): the batch sleeps a while."""
    started = time.time()
    time.sleep(BATCH_SECONDS)
    return [(os.getpid(), started, time.time(), len(payloads))] * len(payloads)


@pytest.fixture
def pool():
    workers = ModelWorkers(WorkersConfig(processes=2, initializer=no_models))
    workers.warm(record_batch, "warm")
    yield workers
    workers.shutdown()


def test_items_arriving_while_a_short_batch_runs_leave_together_after_it(pool):
    first = pool.submit(record_batch, "short one")  # nothing in flight: it leaves at once
    behind = [pool.submit(record_batch, f"short {n}") for n in range(3)]
    wait([first, *behind], timeout=30)
    (pid, first_start, first_end, first_size), *rows = [f.result() for f in (first, *behind)]
    assert first_size == 1
    assert len({(start, size) for _, start, _, size in rows}) == 1, "the three left as one batch"
    assert rows[0][3] == 3
    assert rows[0][1] >= first_end - 0.01, "the batch behind did not run beside the short one"


def test_items_arriving_while_a_long_batch_runs_go_to_the_other_worker(pool):
    long = pool.submit(record_batch, "x" * LONG_BATCH_CHARS)  # nothing in flight: it leaves at once
    short = pool.submit(record_batch, "short")
    wait([long, short], timeout=30)
    long_pid, long_start, long_end, _ = long.result()
    short_pid, short_start, short_end, _ = short.result()
    assert short_pid != long_pid
    assert short_start < long_end and short_end - long_start < 2 * BATCH_SECONDS, "they ran at the same time"
