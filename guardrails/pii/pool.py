"""PII detection in worker processes, micro-batched: a web process's event loop never runs spaCy.

Detection is most of a customer message's CPU, and spaCy under the web process's GIL stalls every
socket of that process while it runs. Here each web process keeps PII_REDACTION_PROCESSES worker
processes (spawned, each with its own detector) and hands them batches:

  * a worker that is free takes whatever is waiting at once, so a lone message is not held back to
    fill a batch; while every worker is busy, arriving messages queue and leave together as one
    `nlp.pipe` batch (guardrails/pii/engine.py: several times cheaper per message than one by one);
  * a batch is capped in characters, so a huge message travels alone and, with two or more
    workers, the messages arriving behind it go to another worker rather than wait for it.

Hand-written rather than a task queue: the batching rule and the per-process isolation are the
point, and the standard library's ProcessPoolExecutor does the process work.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from guardrails.pii.engine import PiiDetector, PiiSpan
from supportbot.errors import CodedError

logger = logging.getLogger(__name__)


class DetectionUnavailable(CodedError):
    """The detection workers failed or did not answer in time; nothing was stored."""

    def __init__(self, message: str) -> None:
        super().__init__("unavailable", f"temporarily unavailable ({message}); retry shortly")


@dataclass(frozen=True)
class PoolConfig:
    processes: int
    spacy_model: str
    score_threshold: float
    allow_patterns: tuple[str, ...]
    max_batch: int = 32
    max_batch_chars: int = 2000


# Worker side ------------------------------------------------------------------------------

_worker_detector: PiiDetector | None = None


def _exit_with_parent() -> None:
    """A web process killed outright (SIGKILL, the OOM killer) cannot shut its pool down, and the
    supervisor starts a new one with a new pool: without this watch each such crash would leave
    its workers behind as orphans, each holding a spaCy model in memory."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_start(spacy_model: str, score_threshold: float, allow_patterns: tuple[str, ...]) -> None:
    global _worker_detector
    _exit_with_parent()
    _worker_detector = PiiDetector(
        spacy_model=spacy_model, score_threshold=score_threshold, allow_patterns=list(allow_patterns)
    )


def _worker_detect(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    assert _worker_detector is not None
    return [[(s.type, s.start, s.end) for s in spans] for spans in _worker_detector.detect_many(texts)]


# Web process side -------------------------------------------------------------------------


class DetectionPool:
    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._lock = threading.RLock()  # a done callback may run inside submit()
        self._waiting: deque[tuple[str, Future]] = deque()
        self._in_flight = 0
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: a web process has threads (Daphne's, the ORM pool's) that fork would copy
        # mid-flight.
        return ProcessPoolExecutor(
            max_workers=self.config.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(self.config.spacy_model, self.config.score_threshold, self.config.allow_patterns),
        )

    def warm(self) -> None:
        """Start every worker and load its model now rather than on the first messages."""
        futures = [
            self._executor.submit(_worker_detect, ["warm up, Jane Doe, 12 Main Street"])
            for _ in range(self.config.processes)
        ]
        for future in futures:
            future.result()

    def submit(self, text: str) -> Future:
        """A Future of the text's spans (list[PiiSpan]); callable from any thread."""
        future: Future = Future()
        with self._lock:
            self._waiting.append((text, future))
            self._pump()
        return future

    def _pump(self) -> None:
        # Called with the lock held: send batches while a worker is free.
        while self._waiting and self._in_flight < self.config.processes:
            batch = [self._waiting.popleft()]
            chars = len(batch[0][0])
            while (
                self._waiting
                and len(batch) < self.config.max_batch
                and chars + len(self._waiting[0][0]) <= self.config.max_batch_chars
            ):
                chars += len(self._waiting[0][0])
                batch.append(self._waiting.popleft())
            self._in_flight += 1
            try:
                done = self._executor.submit(_worker_detect, [text for text, _ in batch])
            except (BrokenProcessPool, RuntimeError) as error:
                self._in_flight -= 1
                self._replace_executor(error)
                for _, future in batch:
                    future.set_exception(DetectionUnavailable(str(error)))
                continue
            done.add_done_callback(functools.partial(self._finished, batch=batch))

    def _finished(self, finished: Future, batch: list[tuple[str, Future]]) -> None:
        error = finished.exception()
        if error is None:
            for (_, future), spans in zip(batch, finished.result()):
                future.set_result([PiiSpan(*span) for span in spans])
        else:
            logger.error("PII detection batch failed: %s", error)
            for _, future in batch:
                future.set_exception(DetectionUnavailable(str(error)))
        with self._lock:
            self._in_flight -= 1
            if isinstance(error, BrokenProcessPool):
                self._replace_executor(error)
            self._pump()

    def _replace_executor(self, error: BaseException) -> None:
        # A worker died (killed, out of memory): the executor is unusable; start fresh ones.
        logger.error("PII detection workers restarted after: %s", error)
        broken, self._executor = self._executor, self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_pool: DetectionPool | None = None
_pool_lock = threading.Lock()


def detection_pool_start(config: PoolConfig) -> DetectionPool:
    """This process's pool, started on the first call (later calls return the same one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = DetectionPool(config)
        return _pool


def detection_pool_stop() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()
