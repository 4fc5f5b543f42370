"""Embedded Postgres/Redis: every entry point attaches to the same servers for a data directory."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.django_db


def _manage_py_shell(script: str, *, data_dir, home, **env: str) -> list[str]:
    """Run `manage.py shell -c script` as a separate process with no service URLs of its own
    (unless given); return its output lines."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "SUPPORTBOT_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "supportbot.settings.base",
            "SECRET_KEY": settings.SECRET_KEY,
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_a_manage_py_command_attaches_to_the_running_embedded_servers_and_leaves_them_running(tmp_path):
    """Like `manage.py kb_import` in a second shell while `make run` is up: no DATABASE_URL or
    REDIS_URL in its environment, same data directory."""
    data_dir = settings.DATA_DIR if "postgres" in settings.EMBEDDED_SERVICES else tmp_path
    script = (
        "import os; from django.db import connection; from django.core.cache import cache;"
        "cache.set('embedded-probe', 'ok'); connection.ensure_connection();"
        "print(os.environ['DATABASE_URL']); print(os.environ['REDIS_URL'])"
    )
    database_url, redis_url = _manage_py_shell(script, data_dir=data_dir, home=tmp_path)[-2:]
    if data_dir == settings.DATA_DIR:
        # Same servers as this test session, and they are still up after the command exited.
        assert redis_url == settings.REDIS_URL
        assert database_url.split("?")[1] == settings.DATABASE_URL.split("?")[1]
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        from django.core.cache import cache

        assert cache.get("embedded-probe") == "ok"
    else:
        # Started its own embedded servers for the new directory, and stopped them on exit.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(database_url, connect_timeout=2)


def test_the_vector_extension_is_installed_by_a_migration():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone() is not None


def test_a_process_that_started_the_embedded_redis_stops_it_on_exit_even_after_using_it(tmp_path):
    """Its own clients (the cache, Celery's producer) used to keep the server alive after exit."""
    import redis

    script = (
        "import os; from django.core.cache import cache; from supportbot.celery import app;"
        "cache.set('embedded-probe', 'ok'); app.send_task('conversations.tasks.purge_expired_pii');"
        "print(os.environ['REDIS_URL'])"
    )
    # Only Redis is embedded here: the database is this session's.
    redis_url = _manage_py_shell(script, data_dir=tmp_path, home=tmp_path, DATABASE_URL=settings.DATABASE_URL)[-1]
    assert redis_url.startswith("unix://")
    with pytest.raises(redis.ConnectionError):
        redis.Redis(unix_socket_path=redis_url.removeprefix("unix://"), socket_connect_timeout=2).ping()
