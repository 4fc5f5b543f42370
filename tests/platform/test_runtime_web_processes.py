"""`make run`'s web processes: several Daphne processes accept on the one port the supervisor bound,
the kernel spreads connections over them, each is supervised on its own, and a bad WEB_PROCESSES
stops the run naming the variable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest

from supportbot.runtime.children import web_children, web_listener_open
from supportbot.runtime.supervisor import Supervisor
from tests.conftest import PROJECT_ROOT, child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def _answers(port: int, timeout: float = 90.0) -> bool:
    """Does the port answer an HTTP request (any status) within timeout?"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return True
        except urllib.error.HTTPError:
            return True  # 503 without a worker: still served
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    return False


def _served_only_by(child, port: int, *, others: list) -> bool:
    """Freeze every other web process: whatever answers now was accepted by `child`."""
    for other in others:
        os.kill(other.process.pid, signal.SIGSTOP)
    try:
        return _answers(port)
    finally:
        for other in others:
            os.kill(other.process.pid, signal.SIGCONT)


@pytest.fixture
def web_host(tmp_path):
    listener = web_listener_open(host="127.0.0.1", port=0)
    port = listener.getsockname()[1]
    webs = web_children(listener=listener, count=2)
    log = open(tmp_path / "host.log", "ab")
    supervisor = Supervisor(
        webs, env=child_env(PRELOAD_MODELS="false"), output=log, cwd=str(PROJECT_ROOT), grace_seconds=2.0
    )
    supervisor.start_all()
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()
    try:
        yield port, webs, supervisor
    finally:
        supervisor.stopping.set()
        watcher.join(timeout=30)
        listener.close()
        log.close()


def test_every_web_process_serves_the_shared_port_and_one_killed_restarts_alone(web_host, capsys):
    port, (web1, web2), _ = web_host
    assert _answers(port)
    assert _served_only_by(web1, port, others=[web2])
    assert _served_only_by(web2, port, others=[web1])

    killed_pid = web1.process.pid
    os.kill(killed_pid, signal.SIGKILL)
    # The port never closes: web-2 keeps accepting while web-1 is down and restarting.
    assert _answers(port, timeout=5)
    deadline = time.monotonic() + 30
    while (web1.process.pid == killed_pid or web1.process.poll() is not None) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert web1.process.pid != killed_pid and web1.process.poll() is None
    assert "web-1 exited unexpectedly with code -9; restarting" in capsys.readouterr().out
    assert web2.process.poll() is None  # untouched
    assert _served_only_by(web1, port, others=[web2])  # the new web-1 accepts on the same port


def _connections_of(pid: int, port: int) -> int:
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def test_the_kernel_spreads_connections_over_the_web_processes_however_fast_each_accepts(web_host):
    """Each web process listens on a socket of its own (SO_REUSEPORT): the kernel splits new
    connections between them. With one shared socket, whichever process accepted first took
    whole bursts: here one of them took all 60 (web-1 while web-2 was frozen, or web-2 draining
    the backlog in one go when it woke)."""
    port, (web1, web2), _ = web_host
    assert _answers(port)
    os.kill(web2.process.pid, signal.SIGSTOP)
    clients = []
    try:
        for _ in range(60):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    finally:
        os.kill(web2.process.pid, signal.SIGCONT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counts = [_connections_of(web.process.pid, port) for web in (web1, web2)]
            if sum(counts) >= 60:
                break
            time.sleep(0.2)
        assert sum(counts) == 60
        assert min(counts) >= 10, counts  # 30 each expected; under 10 of 60 by chance: ~1e-7
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("value", ["0", "many"])
def test_make_run_refuses_a_bad_web_processes_naming_it(value):
    result = subprocess.run(
        [sys.executable, "-m", "supportbot.runtime"],
        cwd=PROJECT_ROOT,
        env=child_env(WEB_PROCESSES=value),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot start: WEB_PROCESSES" in result.stderr
