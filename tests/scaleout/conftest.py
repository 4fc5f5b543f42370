"""The scale-out topology, started once per module: two app "hosts" on loopback, each a real
supervisor (supportbot.runtime) running two Daphne processes on its own shared port plus a Celery
worker; one Celery beat; the suite's Postgres and Redis over TCP; and HAProxy in front, configured
by the file shipped in deploy/ (addresses through its environment variables).

HAProxy names the hosts app1 and app2 and says which one answered (X-Served-By); within a host the
web process holding a connection is found from the kernel's socket table (psutil).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from supportbot.celery import app as celery_app
from supportbot.runtime.children import beat_child, web_children, web_listener_open, worker_child
from supportbot.runtime.supervisor import Child, Supervisor
from tests.conftest import PROJECT_ROOT, child_env, free_port

HAPROXY_CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"
WEB_PROCESSES_PER_HOST = 2
START_TIMEOUT = 150.0


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Overrides the suite's per-test FLUSHDB: the hosts outlive each test here, and emptying
    their Redis would drop their channel-layer groups and Celery's queue bindings mid-module. The
    topology flushes once before it starts, and its limits are raised for the run."""
    yield


@dataclass
class Host:
    name: str  # HAProxy's server name for it
    port: int
    listener: socket.socket
    webs: list[Child]
    supervisor: Supervisor
    log_path: Path
    watcher: threading.Thread | None = None
    log: object = None

    def established(self) -> dict[int, int]:
        """{peer port: pid} of every connection a web process of this host holds."""
        found = {}
        for child in self.webs:
            assert child.process is not None
            try:
                connections = psutil.Process(child.process.pid).net_connections(kind="tcp")
            except psutil.NoSuchProcess:  # just killed; the supervisor is restarting it
                continue
            for conn in connections:
                if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == self.port and conn.raddr:
                    found[conn.raddr.port] = child.process.pid
        return found

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Topology:
    lb_port: int
    hosts: dict[str, Host]
    haproxy: subprocess.Popen
    haproxy_log: Path
    extra: dict = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.lb_port}"

    def host_of_pid(self, pid: int) -> Host:
        return next(h for h in self.hosts.values() if any(c.process and c.process.pid == pid for c in h.webs))

    def diagnostics(self) -> str:
        parts = [f"--- {name} ---\n{host.output()[-4000:]}" for name, host in self.hosts.items()]
        parts.append("--- haproxy ---\n" + (self.haproxy_log.read_text()[-2000:] if self.haproxy_log.exists() else ""))
        return "\n".join(parts)


def _host(name: str, *, env: dict[str, str], log_dir: Path, with_beat: bool) -> Host:
    listener = web_listener_open(host="127.0.0.1", port=0)
    webs = web_children(listener=listener, count=WEB_PROCESSES_PER_HOST)
    # A solo worker per host: one process starts fast; two hosts make two competing workers.
    worker = worker_child(
        name="worker", extra=["--pool", "solo", "--hostname", f"{name}@%h", "--without-mingle", "--without-gossip"]
    )
    children = [*webs, worker, *([beat_child()] if with_beat else [])]
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "ab")
    # A short grace: the test's hosts hold nothing worth a graceful stop, and Daphne takes ~15 s.
    supervisor = Supervisor(children, env=env, output=log, cwd=str(PROJECT_ROOT), grace_seconds=2.0)
    host = Host(
        name=name,
        port=listener.getsockname()[1],
        listener=listener,
        webs=webs,
        supervisor=supervisor,
        log_path=log_path,
        log=log,
    )
    supervisor.start_all()
    host.watcher = threading.Thread(target=supervisor.watch, name=f"supervisor-{name}", daemon=True)
    host.watcher.start()
    return host


def _wait_healthy(url: str, *, deadline: float, what: str, topology_log) -> None:  # noqa: ANN001
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not healthy within {START_TIMEOUT:.0f}s\n{topology_log()}")


@pytest.fixture(scope="module")
def topology(django_db_setup, django_db_blocker, tmp_path_factory) -> Topology:
    haproxy_binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    # `make test` installs it (Makefile, browser target); a missing balancer is a failure, not a skip.
    assert haproxy_binary, "haproxy is not installed: run `make test` (it installs haproxy with apt)"
    log_dir = tmp_path_factory.mktemp("scaleout")
    with django_db_blocker.unblock():
        from django.core.cache import cache

        cache.clear()
        celery_app.control.purge()
        env = child_env(
            PRELOAD_MODELS="false",  # each process loads its models on first use: a faster start
            TRUSTED_PROXY_COUNT="1",  # HAProxy is one hop (deploy/haproxy.cfg sets X-Forwarded-For)
            CHAT_MAX_SOCKETS_PER_IP="500",
            LIMIT_MESSAGES_PER_IP_PER_MINUTE="1000",
            LIMIT_CONVERSATIONS_PER_IP_PER_HOUR="1000",
            DATABASE_POOL_MAX_SIZE="12",  # the deployed default (supportbot/settings/base.py)
        )
    hosts: dict[str, Host] = {}
    haproxy = None
    lb_port = free_port()
    haproxy_log = log_dir / "haproxy.log"
    try:
        hosts["app1"] = _host("app1", env=env, log_dir=log_dir, with_beat=True)
        hosts["app2"] = _host("app2", env=env, log_dir=log_dir, with_beat=False)
        haproxy = subprocess.Popen(
            [haproxy_binary, "-db", "-f", str(HAPROXY_CONFIG)],
            env={
                **os.environ,
                "SUPPORTBOT_LB_BIND": f"127.0.0.1:{lb_port}",
                "SUPPORTBOT_APP_1": f"127.0.0.1:{hosts['app1'].port}",
                "SUPPORTBOT_APP_2": f"127.0.0.1:{hosts['app2'].port}",
                "SUPPORTBOT_HEALTH_HOST": "localhost",
            },
            stdout=open(haproxy_log, "ab"),
            stderr=subprocess.STDOUT,
        )
        topo = Topology(lb_port=lb_port, hosts=hosts, haproxy=haproxy, haproxy_log=haproxy_log)
        deadline = time.monotonic() + START_TIMEOUT
        for host in hosts.values():
            _wait_healthy(
                f"http://127.0.0.1:{host.port}/healthz",
                deadline=deadline,
                what=host.name,
                topology_log=topo.diagnostics,
            )
        _wait_healthy(f"{topo.http}/healthz", deadline=deadline, what="the balancer", topology_log=topo.diagnostics)
        while len(celery_app.control.ping(timeout=1.0)) < 2:
            assert time.monotonic() < deadline, f"both workers not up\n{topo.diagnostics()}"
        yield topo
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(timeout=10)
        for host in hosts.values():
            host.supervisor.stopping.set()
        for host in hosts.values():
            if host.watcher is not None:
                host.watcher.join(timeout=30)
            host.listener.close()
            host.log.close()
