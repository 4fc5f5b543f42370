"""Shared fixtures: real Postgres+pgvector and Redis (embedded unless DATABASE_URL/TEST_REDIS_URL
are set, started once by loading the test settings), named personas, helpers for live processes.
The test settings refuse a plain REDIS_URL: `_fresh_limits` below empties the Redis it gets.

Personas: Alice and Bob are support agents; Charlie is staff but not an agent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from conversations.chat.widget_sessions import widget_session_open
from conversations.models import WidgetSite
from demoshop.demo_accounts import support_agents_group_ensure

pytest_plugins = ["tests.bot_support", "tests.event_capture"]

ORIGIN = "http://shop.test"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config, items):
    """`make test-fast` leaves out the browser tests by their `e2e` marker: a browser test without
    it would slip into the fast tier (and need chromium there), so collecting one is an error."""
    unmarked = [
        item.nodeid
        for item in items
        if ("browser" in getattr(item, "fixturenames", ()) or "tests/e2e/" in item.nodeid)
        and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError("browser tests must carry @pytest.mark.e2e: " + ", ".join(unmarked))


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Rate-limit and budget counters live in Redis, which outlives the test database: start each
    test from zero so ids reused across runs do not inherit old strikes. This is a FLUSHDB, hence
    the test settings' refusal of any Redis but the embedded one or TEST_REDIS_URL's."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def site(db) -> WidgetSite:
    """A site with the bot off and no routing: transport, inbox and handoff tests see only what they send."""
    return WidgetSite.objects.create(
        key="test-site", name="Test Co", allowed_origins=[ORIGIN], bot_enabled=False, handoff_when_bot_off=False
    )


@pytest.fixture
def bot_site(db) -> WidgetSite:
    return WidgetSite.objects.create(key="bot-site", name="Acme Outfitters", allowed_origins=[ORIGIN], bot_enabled=True)


def _user(username: str, *, agent: bool, first_name: str):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=first_name, is_staff=True
    )
    if agent:
        user.groups.add(support_agents_group_ensure())
    return user


@pytest.fixture
def alice(db):
    return _user("alice", agent=True, first_name="Alice")


@pytest.fixture
def bob(db):
    return _user("bob", agent=True, first_name="Bob")


@pytest.fixture
def charlie(db):
    return _user("charlie", agent=False, first_name="Charlie")


@pytest.fixture
def widget_session(site):
    """A fresh anonymous conversation on the test site, as the widget would open it."""
    return widget_session_open(site_key=site.key, origin=ORIGIN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL pointed at the test database pytest-django created, for child processes."""
    parsed = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(parsed._replace(path="/" + connection.settings_dict["NAME"]))


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # The browser tests set it in this process for Playwright's event loop; a server or worker
    # started from them must keep Django's check that async code makes no blocking ORM calls.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "supportbot.settings.test",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SECRET_KEY": settings.SECRET_KEY,
            "PYTHONUNBUFFERED": "1",
            # One model worker per test server, not the deployed two: each loads spaCy and MiniLM
            # at start, and a second one made every server start about a quarter slower on these
            # two cores. Tests about the worker pool itself run it in-process with the default.
            "PII_REDACTION_PROCESSES": "1",
        }
    )
    env.update(extra)
    return env


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def launch_daphne(port: int, log_path: Path, **extra_env: str) -> subprocess.Popen:
    """A Daphne on the test database and Redis, not yet waited for (see start_daphne)."""
    return subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "supportbot.asgi:application"],
        cwd=PROJECT_ROOT,
        env=child_env(**extra_env),
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )


def start_daphne(port: int, log_path: Path, *, timeout: float = 120.0, **extra_env: str) -> subprocess.Popen:
    process = launch_daphne(port, log_path, **extra_env)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", process, timeout=timeout)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    """A `transaction=True` test ends with Django's flush, which TRUNCATEs every table (44): on this
    Postgres (fsync on) that took 1.8-3 s per test, most of the suite's time. DELETE FROM each
    table empties them just the same in about 0.01-0.1 s for the few rows a test leaves. The flush
    runs in one transaction and Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so the
    order of the deletes does not matter. Content types and permissions, which the flush's
    post_migrate handlers would write back row by row (another 0.3 s), are kept: those handlers
    still run and restore any that a test removed, and no test creates its own. Hand-written:
    neither Django nor pytest-django offers it."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    recreated_by_post_migrate = {"django_content_type", "auth_permission"}

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in recreated_by_post_migrate
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(scope="session", autouse=True)
def _close_stray_test_connections(django_db_setup, django_db_blocker):
    """Connections opened from sync_to_async threads outlive the tests that opened them; end
    them so pytest-django can drop the test database."""
    yield
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def start_celery_worker(log_path: Path, *, name: str, queue: str | None = None, **extra_env: str) -> subprocess.Popen:
    """A real Celery worker on the test database and Redis (solo pool: one process, fast start).
    `queue`: consume only that queue, so a test that sends its task there needs no purge of what
    other tests left in the default queues."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "supportbot",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            *(["--queues", queue] if queue else []),
        ],
        cwd=PROJECT_ROOT,
        env=child_env(**extra_env),
        stdout=open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
