"""Stage timestamps of bot turns, for the capacity benchmark (benchmarks/open_loop.py --trace).

Off unless BOT_TURN_TRACE_PATH names a file: then every bot turn of the process appends one JSON
line with the wall-clock time of each stage it passed (scheduled, lease claimed, each thread-pool
trip queued / started / done, each model-worker job queued / sent to a worker / done, model
request sent, first chunk, first delta published, ... posted), and the process appends a line for
every event-loop stall and every slow garbage collection. Wall-clock (time.time()) so that the
benchmark's client, on the same machine, can put its own send and receive times on the same axis.

Off, a mark is one ContextVar read; nothing is recorded and no file is opened. Not for production:
a line per turn, written from the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
import traceback
from contextvars import ContextVar
from typing import Any

from django.conf import settings

# The turn being traced (its dict of marks), or None: set by turn_trace_begin, read by trace_mark.
_turn: ContextVar[list[tuple[str, float]] | None] = ContextVar("bot_turn_trace", default=None)
# When this drive (runner.turn_drive) was scheduled, carried into the turns it runs.
_scheduled: ContextVar[float | None] = ContextVar("bot_turn_scheduled", default=None)

_write_lock = threading.Lock()
_monitor_started = False
LOOP_STALL_REPORT_SECONDS = 0.02
GC_REPORT_SECONDS = 0.005


def trace_enabled() -> bool:
    return bool(settings.BOT_TURN_TRACE_PATH)


def _write(record: dict[str, Any]) -> None:
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with _write_lock, open(settings.BOT_TURN_TRACE_PATH, "a", encoding="utf-8") as out:
        out.write(line)


def trace_mark(stage: str) -> None:
    """Record that the traced turn of this context reached `stage` (any thread: the marks list is
    shared with the thread-pool trips, whose context is a copy of the turn's)."""
    marks = _turn.get()
    if marks is not None:
        marks.append((stage, time.time()))


def trace_marks() -> list[tuple[str, float]] | None:
    """The current turn's marks, for code that finishes a job on another thread (the model workers'
    callbacks run without the caller's context)."""
    return _turn.get()


def trace_mark_on(marks: list[tuple[str, float]] | None, stage: str) -> None:
    if marks is not None:
        marks.append((stage, time.time()))


def traced_call(function: Any, *, name: str | None = None) -> Any:
    """`function`, marking when it was handed to the thread pool, started and returned."""
    name = name or getattr(function, "__name__", "call")
    trace_mark(f"{name}:queued")

    def traced(*args: Any, **kwargs: Any) -> Any:
        trace_mark(f"{name}:run")
        try:
            return function(*args, **kwargs)
        finally:
            trace_mark(f"{name}:done")

    return traced


def trace_batch(
    *, job: str, size: int, chars: int, queued: float, sent: float, started: float, ended: float, cpu: float
) -> None:
    """One model-worker batch: its oldest item's wait for a free worker (queued -> sent), the trip
    to the worker (sent -> started), and its run (started -> ended, `cpu` seconds of it on a core)."""
    _write(
        {
            "kind": "batch",
            "pid": os.getpid(),
            "t": time.time(),
            "job": job,
            "size": size,
            "chars": chars,
            "wait_s": sent - queued,
            "to_worker_s": started - sent,
            "run_s": ended - started,
            "cpu_s": cpu,
            "back_s": time.time() - ended,
        }
    )


def trace_schedule_context() -> Any:
    """A copy of the current context carrying the schedule time, for the drive's task; None when off."""
    if not trace_enabled():
        return None
    import contextvars

    _monitor_start()
    context = contextvars.copy_context()
    context.run(_scheduled.set, time.time())
    return context


def trace_message_begin() -> Any:
    """Trace a customer message's path through the socket (from the parsed frame: limits,
    detection, append, ack, publish) as marks of the turn it schedules. Returns the token for trace_message_end;
    None when off."""
    if not trace_enabled():
        return None
    return _turn.set([("frame_parsed", time.time())])


def trace_message_end(token: Any) -> None:
    if token is not None:
        _turn.reset(token)  # the socket's next frame starts without these marks


def trace_turn_begin() -> list[tuple[str, float]] | None:
    if not trace_enabled():
        return None
    marks: list[tuple[str, float]] = []
    scheduled = _scheduled.get()
    if scheduled is not None:
        # The customer message that scheduled this drive: its own marks come first.
        marks.extend(_turn.get() or ())
        marks.append(("scheduled", scheduled))
        _scheduled.set(None)  # a second turn of the same drive was not scheduled by a message
    marks.append(("turn_start", time.time()))
    _turn.set(marks)
    return marks


_modules_seen: set[str] = set()


def trace_turn_end(marks: list[tuple[str, float]] | None, **fields: Any) -> None:
    if marks is None:
        return
    marks.append(("turn_end", time.time()))
    _write({"kind": "turn", "pid": os.getpid(), **fields, "marks": marks})
    if len(sys.modules) != len(_modules_seen):
        # Modules first imported while serving (on the event loop, if a turn's code imported them).
        new = sorted(set(sys.modules) - _modules_seen)
        _modules_seen.update(new)
        _write({"kind": "imports", "pid": os.getpid(), "t": time.time(), "count": len(new), "modules": new[:400]})


def _monitor_start() -> None:
    """Event-loop stalls and slow collections of this process, written as they happen."""
    global _monitor_started
    if _monitor_started:
        return
    _monitor_started = True
    _modules_seen.update(sys.modules)
    loop = asyncio.get_running_loop()
    gc_started: dict[int, tuple[float, float]] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[info["generation"]] = (time.perf_counter(), time.thread_time())
            return
        began = gc_started.pop(info["generation"], None)
        if began is not None and time.perf_counter() - began[0] >= GC_REPORT_SECONDS:
            _write(
                {
                    "kind": "gc",
                    "pid": os.getpid(),
                    "t": time.time(),
                    "generation": info["generation"],
                    "s": time.perf_counter() - began[0],
                    "cpu_s": time.thread_time() - began[1],
                    "collected": info["collected"],
                }
            )

    gc.callbacks.append(on_gc)

    def publish_waiters() -> int | None:
        # channels_redis's pub/sub shards serialize every publish under one asyncio.Lock each.
        try:
            from channels.layers import get_channel_layer

            layer: Any = get_channel_layer()
            layer = layer._get_layer()
            return sum(len(shard._lock._waiters or ()) for shard in layer._shards)
        except Exception:
            return None

    def subscribe_queued() -> int | None:
        # (UN)SUBSCRIBEs queued for their sender (conversations/core/realtime_recovery.py).
        try:
            from channels.layers import get_channel_layer

            layer: Any = get_channel_layer()
            layer = layer._get_layer()
            return sum(len(shard._subscription_outbox) for shard in layer._shards)
        except Exception:
            return None

    def pool_queued() -> int | None:
        executor = getattr(loop, "_default_executor", None)
        return executor._work_queue.qsize() if executor is not None else None

    last_tick = [time.perf_counter()]
    loop_thread = threading.get_ident()

    def watchdog() -> None:
        # While the loop is stalled, what is its thread doing (and the others)? Sampled from
        # another thread; one record per stall, at 0.3 s into it.
        reported = 0.0
        while True:
            time.sleep(0.05)
            now = time.perf_counter()
            if now - last_tick[0] > 0.4 and reported != last_tick[0]:
                reported = last_tick[0]
                frames = sys._current_frames()
                names = {t.ident: t.name for t in threading.enumerate()}
                stacks = {
                    names.get(ident, str(ident)): [
                        f"{'/'.join(f.filename.rsplit('/', 2)[-2:])}:{f.lineno}:{f.name}"
                        for f in traceback.extract_stack(frame)[-(14 if ident == loop_thread else 4) :]
                    ]
                    for ident, frame in frames.items()
                }
                _write(
                    {
                        "kind": "stack",
                        "pid": os.getpid(),
                        "t": time.time(),
                        "stalled_s": now - last_tick[0],
                        "stacks": stacks,
                    }
                )

    threading.Thread(target=watchdog, name="trace-watchdog", daemon=True).start()

    async def watch_loop() -> None:
        period, ticks = 0.1, 0
        worst = {"pool_queued": 0, "publish_waiters": 0, "subscribe_queued": 0}
        while True:
            last_tick[0] = time.perf_counter()
            before, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(period)
            stall = time.perf_counter() - before - period
            ticks += 1
            if stall >= LOOP_STALL_REPORT_SECONDS:
                # cpu_s: the whole process's CPU over the tick; well under the tick's wall time means
                # the process waited for a core, not that the loop was busy.
                _write(
                    {
                        "kind": "stall",
                        "pid": os.getpid(),
                        "t": time.time(),
                        "s": stall,
                        "cpu_s": time.process_time() - cpu,
                        "pool_queued": pool_queued(),
                    }
                )
            # The worst of each tick, written once a second.
            worst["pool_queued"] = max(worst["pool_queued"], pool_queued() or 0)
            worst["publish_waiters"] = max(worst["publish_waiters"], publish_waiters() or 0)
            worst["subscribe_queued"] = max(worst["subscribe_queued"], subscribe_queued() or 0)
            if ticks % 10 == 0:
                _write(
                    {
                        "kind": "load",
                        "pid": os.getpid(),
                        "t": time.time(),
                        **worst,
                        "tasks": len(asyncio.all_tasks(loop)),
                    }
                )
                worst = {"pool_queued": 0, "publish_waiters": 0, "subscribe_queued": 0}

    loop.create_task(watch_loop())
