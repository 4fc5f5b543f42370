"""The process supervisor behind `make run`: the Daphne processes, a Celery worker and Celery beat.

Children run in their own sessions, so Ctrl-C reaches only the supervisor, which then stops them
in order (SIGTERM, then SIGKILL after a grace period). A child that dies is reported loudly and
restarted with backoff; one that keeps dying stops the whole run with a clear message rather than
leaving a half-working app behind. Each web process is its own child: one crashing restarts alone
while the others keep serving the shared port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

GRACE_SECONDS = 10.0
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: deque = field(default_factory=deque)
    # Opens the listening socket a web process gets at each start: its descriptor replaces `{fd}`
    # in argv and is the only one the child inherits; the supervisor closes its own copy once the
    # child has it, so the socket dies with the child (supportbot/runtime/children.py).
    listen: Callable[[], socket.socket] | None = None


def say(message: str) -> None:
    print(f"[supportbot] {message}", flush=True)


def _pump(name: str, stream: IO[bytes], output: IO[bytes] | None) -> None:
    prefix = f"{name:>6} | ".encode()
    for line in iter(stream.readline, b""):
        sink = output or sys.stdout.buffer
        sink.write(prefix + line)
        sink.flush()


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        env: dict[str, str],
        *,
        output: IO[bytes] | None = None,
        cwd: str | None = None,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        self.children = children
        self.env = env
        self.output = output  # None: our stdout (tests collect a host's output in a file)
        self.cwd = cwd
        self.grace_seconds = grace_seconds
        self.stopping = threading.Event()

    def start(self, child: Child) -> None:
        listening = child.listen() if child.listen is not None else None
        try:
            fd = str(listening.fileno()) if listening is not None else ""
            child.process = subprocess.Popen(
                [arg.replace("{fd}", fd) for arg in child.argv] if listening is not None else child.argv,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(listening.fileno(),) if listening is not None else (),
                cwd=self.cwd,
            )
        finally:
            if listening is not None:
                listening.close()
        assert child.process.stdout is not None
        threading.Thread(target=_pump, args=(child.name, child.process.stdout, self.output), daemon=True).start()

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)

    def watch(self) -> int:
        """Block until asked to stop or until a child keeps crashing; return the exit status."""
        while not self.stopping.wait(0.5):
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    continue
                now = time.monotonic()
                while child.restarts and now - child.restarts[0] > RESTART_WINDOW_SECONDS:
                    child.restarts.popleft()
                if len(child.restarts) >= MAX_RESTARTS:
                    say(
                        f"!!! {child.name} exited with code {code} and has crashed {MAX_RESTARTS} times "
                        f"in {RESTART_WINDOW_SECONDS:.0f}s; stopping everything. See its output above."
                    )
                    self.stop_all()
                    return 1
                child.restarts.append(now)
                delay = min(8.0, 0.5 * 2 ** (len(child.restarts) - 1))
                say(f"!!! {child.name} exited unexpectedly with code {code}; restarting in {delay:.1f}s")
                if self.stopping.wait(delay):
                    break
                self.start(child)
        self.stop_all()
        return 0

    def request_stop(self, signum: int, _frame: object) -> None:
        if not self.stopping.is_set():
            say(f"received {signal.Signals(signum).name}; stopping")
        self.stopping.set()

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            try:
                os.killpg(child.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.grace_seconds
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop within {self.grace_seconds:.0f}s; killing it")
                try:
                    os.killpg(child.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.process.wait()
        if running:
            say("all processes stopped")
