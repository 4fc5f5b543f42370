"""The `make run` supervisor: restarts a crashed child, gives up on a crash loop, stops cleanly."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from supportbot.runtime import supervisor as supervisor_module
from supportbot.runtime.supervisor import Child, Supervisor


def sleeper(name: str) -> Child:
    return Child(name, [sys.executable, "-c", "import time; time.sleep(60)"])


def crasher(name: str) -> Child:
    return Child(name, [sys.executable, "-c", "import sys; sys.exit(3)"])


def test_it_stops_every_child_on_request():
    children = [sleeper("web"), sleeper("worker")]
    sup = Supervisor(children, env=dict(os.environ))
    sup.start_all()
    pids = [c.process.pid for c in children]
    threading.Timer(0.5, sup.request_stop, args=(signal.SIGINT, None)).start()
    assert sup.watch() == 0
    for pid in pids:
        assert not _alive(pid)


def test_it_restarts_a_crashed_child_and_reports_it(capsys):
    flag = f"/tmp/supportbot-supervisor-{os.getpid()}-{time.monotonic_ns()}"
    # Crashes the first time, then stays up.
    child = Child(
        "worker",
        [
            sys.executable,
            "-c",
            f"import os, sys, time\nif not os.path.exists({flag!r}):\n    open({flag!r}, 'w').close(); sys.exit(7)\ntime.sleep(60)",
        ],
    )
    sup = Supervisor([child], env=dict(os.environ))
    sup.start_all()
    first_pid = child.process.pid
    threading.Timer(2.5, sup.request_stop, args=(signal.SIGTERM, None)).start()
    assert sup.watch() == 0
    os.unlink(flag)
    assert child.process.pid != first_pid
    assert "worker exited unexpectedly with code 7; restarting" in capsys.readouterr().out


def test_it_stops_everything_when_a_child_keeps_crashing(monkeypatch, capsys):
    monkeypatch.setattr(supervisor_module, "MAX_RESTARTS", 2)
    monkeypatch.setattr(supervisor_module, "RESTART_WINDOW_SECONDS", 60.0)
    web = sleeper("web")
    sup = Supervisor([web, crasher("beat")], env=dict(os.environ))
    sup.start_all()
    assert sup.watch() == 1
    assert not _alive(web.process.pid)
    assert "beat exited with code 3 and has crashed 2 times" in capsys.readouterr().out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie that was reaped by Popen.wait() is gone; one that was not would still answer.
    return True
