"""The local models in worker processes, micro-batched: a web process's event loop and thread pool
never run spaCy or MiniLM for a customer message or a bot turn.

Detection and embedding are most of a message's and a turn's CPU, and either one under the web
process's GIL stalls every socket of that process while it runs. Each web process keeps
PII_REDACTION_PROCESSES worker processes (spawned; each loads the PII detector and MiniLM once,
guardrails/pii/pool.py) and hands them batches of jobs:

  * a job is a module-level function `job(payloads) -> results`, one result per payload, that the
    worker imports by name; waiting payloads of the same job leave together as one batch
    (`nlp.pipe` for detection, one padded forward pass for embeddings: several times cheaper per
    item than one by one);
  * a lone item is not held back to fill a batch: with nothing in flight it leaves at once;
  * one short batch at a time: while a batch of fewer than LONG_BATCH_CHARS characters runs (a
    few ms), arriving items wait for it and leave together after it, rather than wake a second
    worker. Two workers running two small batches at once compete with the web processes for
    the cores: on the 2-core machine the open loop's p95 was 227 ms with both workers busy at
    once against 180 ms with one worker per web process (docs/performance.md, "the steady state
    and the turn's trips");
  * a batch is capped in characters, so a huge message travels alone, and while a long batch
    (a pasted page, or many items under load) runs, the items arriving behind it go to another
    worker rather than wait for it: the isolation the second worker is for.

The pool knows no model: the jobs and the worker initializer are the caller's (guardrails for
detection, supportbot.llm.embeddings for MiniLM). Hand-written rather than a task queue: the
batching rule and the per-process isolation are the point, and the standard library's
ProcessPoolExecutor does the process work.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from supportbot.errors import CodedError
from supportbot.runtime.trace import trace_batch, trace_enabled, trace_mark_on, trace_marks

logger = logging.getLogger(__name__)

P = TypeVar("P")
R = TypeVar("R")
Job = Callable[[list[Any]], Sequence[Any]]

# One batch takes milliseconds, the largest allowed message well under a second; a worker that has
# not answered in this long is stuck, and the caller gets ModelWorkersUnavailable (nothing stored).
WORKER_TIMEOUT_SECONDS = 30.0
# A batch this long (characters) takes tens of ms or more: the next batch may go to another worker.
LONG_BATCH_CHARS = 1000


class ModelWorkersUnavailable(CodedError):
    """The model workers failed or did not answer in time; nothing was stored."""

    def __init__(self, message: str) -> None:
        super().__init__("unavailable", f"temporarily unavailable ({message}); retry shortly")


@dataclass(frozen=True)
class WorkersConfig:
    processes: int
    initializer: Callable[..., None]  # module-level: each worker imports it by name
    initargs: tuple[Any, ...] = ()
    max_batch: int = 32
    max_batch_chars: int = 2000


def _cost(payload: object) -> int:
    if isinstance(payload, str):
        return len(payload)
    if isinstance(payload, list | tuple):
        return sum(_cost(p) for p in payload)
    return 1


# Worker side ------------------------------------------------------------------------------


def _exit_with_parent() -> None:
    """A web process killed outright (SIGKILL, the OOM killer) cannot shut its pool down, and the
    supervisor starts a new one with a new pool: without this watch each such crash would leave
    its workers behind as orphans, each holding its models in memory."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_start(initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    _exit_with_parent()
    initializer(*initargs)
    # The models just loaded live as long as the worker: out of the collector's reach, a full
    # collection no longer walks them (hundreds of ms each time, in the middle of a batch).
    gc.freeze()


def _worker_run(job: Job, payloads: list[Any]) -> tuple[list[Any], float, float, float]:
    """The results, with the batch's CPU seconds and its wall-clock start and end in the worker
    (for the benchmark's trace: how long a batch ran, and whether the worker had a core)."""
    started, cpu = time.time(), time.process_time()
    results = list(job(payloads))
    if len(results) != len(payloads):  # a job bug must not hand one caller another's result
        raise RuntimeError(f"{job.__qualname__} returned {len(results)} results for {len(payloads)} payloads")
    return results, time.process_time() - cpu, started, time.time()


# Web process side -------------------------------------------------------------------------


class ModelWorkers:
    def __init__(self, config: WorkersConfig) -> None:
        self.config = config
        self._lock = threading.RLock()  # a done callback may run inside submit()
        self._waiting: deque[tuple[Job, Any, Future]] = deque()
        # Traced bot turns' marks (benchmark only, supportbot/runtime/trace.py), by future.
        self._traces: dict[Future, list[tuple[str, float]]] = {}
        self._queued_at: dict[Future, float] | None = {} if trace_enabled() else None
        self._in_flight = 0
        self._short_in_flight = 0  # batches under LONG_BATCH_CHARS being run
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: a web process has threads (Daphne's, the ORM pool's) that fork would copy
        # mid-flight.
        return ProcessPoolExecutor(
            max_workers=self.config.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(self.config.initializer, self.config.initargs),
        )

    def warm(self, job: Job, payload: Any) -> None:
        """Start every worker (its initializer loads the models) and run `job` once in each."""
        futures = [self._executor.submit(_worker_run, job, [payload]) for _ in range(self.config.processes)]
        for future in futures:
            future.result()

    def worker_pids(self) -> list[int]:
        return sorted((getattr(self._executor, "_processes", None) or {}).keys())

    def submit(self, job: Job, payload: Any) -> Future:
        """A Future of `job`'s result for `payload`; callable from any thread."""
        future: Future = Future()
        marks = trace_marks()
        with self._lock:
            if marks is not None:
                self._traces[future] = marks
                trace_mark_on(marks, f"{job.__name__}:queued")
            if self._queued_at is not None:
                self._queued_at[future] = time.time()
            self._waiting.append((job, payload, future))
            self._pump()
        return future

    def _next_batch(self) -> tuple[Job, list[tuple[Job, Any, Future]], int]:
        # The oldest item, with the items behind it of the same job, within the caps; items of
        # other jobs keep their place.
        first = self._waiting.popleft()
        batch, chars = [first], _cost(first[1])
        others: deque[tuple[Job, Any, Future]] = deque()
        while self._waiting and len(batch) < self.config.max_batch:
            item = self._waiting[0]
            if item[0] is not first[0]:
                others.append(self._waiting.popleft())
                continue
            if chars + _cost(item[1]) > self.config.max_batch_chars:
                break
            chars += _cost(item[1])
            batch.append(self._waiting.popleft())
        self._waiting.extendleft(reversed(others))
        return first[0], batch, chars

    def _pump(self) -> None:
        # Called with the lock held: send batches while a worker is free and no short batch runs
        # (the module's docstring says why).
        while self._waiting and self._in_flight < self.config.processes and not self._short_in_flight:
            job, batch, chars = self._next_batch()
            short = chars < LONG_BATCH_CHARS
            self._in_flight += 1
            self._short_in_flight += short
            try:
                done = self._executor.submit(_worker_run, job, [payload for _, payload, _ in batch])
            except (BrokenProcessPool, RuntimeError) as error:
                self._in_flight -= 1
                self._short_in_flight -= short
                self._replace_executor(error)
                for _, _, future in batch:
                    _settle(future, error=ModelWorkersUnavailable(str(error)))
                continue
            if self._traces:
                for _, _, future in batch:
                    trace_mark_on(self._traces.get(future), f"{job.__name__}:sent")
            done.add_done_callback(functools.partial(self._finished, batch=batch, sent=time.time(), short=short))

    def _finished(self, finished: Future, batch: list[tuple[Job, Any, Future]], sent: float, short: bool) -> None:
        error: BaseException | None = (
            ModelWorkersUnavailable("the batch was cancelled") if finished.cancelled() else finished.exception()
        )
        if self._queued_at is not None:
            with self._lock:
                for _, _, future in batch:
                    trace_mark_on(self._traces.pop(future, None), f"{batch[0][0].__name__}:done")
                queued = [self._queued_at.pop(future, sent) for _, _, future in batch]
            if error is None:
                _, cpu, started, ended = finished.result()
                trace_batch(
                    job=batch[0][0].__name__,
                    size=len(batch),
                    chars=sum(_cost(payload) for _, payload, _ in batch),
                    queued=min(queued),
                    sent=sent,
                    started=started,
                    ended=ended,
                    cpu=cpu,
                )
        try:
            if error is None:
                for (_, _, future), result in zip(batch, finished.result()[0]):
                    _settle(future, result=result)
            else:
                logger.error("model worker batch failed: %s", error)
                for _, _, future in batch:
                    _settle(future, error=ModelWorkersUnavailable(str(error)))
        finally:
            with self._lock:
                self._in_flight -= 1
                self._short_in_flight -= short
                if isinstance(error, BrokenProcessPool):
                    self._replace_executor(error)
                self._pump()

    def _replace_executor(self, error: BaseException) -> None:
        # A worker died (killed, out of memory): the executor is unusable; start fresh ones.
        logger.error("model workers restarted after: %s", error)
        broken, self._executor = self._executor, self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _settle(future: Future, *, result: Any = None, error: BaseException | None = None) -> None:
    # A caller that timed out has cancelled its future; the batch it was in still finishes.
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


async def workers_call(pool: ModelWorkers, job: Callable[[list[P]], Sequence[R]], payload: P) -> R:
    """`job`'s result for `payload`, awaited without holding a thread: the event loop stays free
    and concurrent callers batch together. A dead or stuck worker raises ModelWorkersUnavailable
    (after WORKER_TIMEOUT_SECONDS at most), never hangs the caller."""
    try:
        return await asyncio.wait_for(asyncio.wrap_future(pool.submit(job, payload)), WORKER_TIMEOUT_SECONDS)
    except TimeoutError:
        raise ModelWorkersUnavailable(f"the model workers did not answer within {WORKER_TIMEOUT_SECONDS} s") from None


def workers_call_blocking(pool: ModelWorkers, job: Callable[[list[P]], Sequence[R]], payload: P) -> R:
    """The same from a thread that may block (the ORM thread pool): the GIL is free meanwhile."""
    try:
        return pool.submit(job, payload).result(timeout=WORKER_TIMEOUT_SECONDS)
    except TimeoutError:
        raise ModelWorkersUnavailable(f"the model workers did not answer within {WORKER_TIMEOUT_SECONDS} s") from None


# This process's pool ----------------------------------------------------------------------

_pool: ModelWorkers | None = None
_pool_lock = threading.Lock()


def workers_start(config: WorkersConfig) -> ModelWorkers:
    """This process's pool, started on the first call (later calls return the same one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ModelWorkers(config)
        return _pool


def workers_running() -> ModelWorkers | None:
    """This process's pool if one was started (never in a worker itself)."""
    return _pool


def workers_stop() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()
