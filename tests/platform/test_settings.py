"""Configuration comes from the environment; a bad value stops startup naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from supportbot.settings.environment import Env, celery_broker_url
from tests.conftest import PROJECT_ROOT, child_env


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("DEBUG", "ture", lambda env: env.bool("DEBUG", False)),
        ("PORT", "eighty", lambda env: env.int("PORT", 8000)),
        ("PORT", "70000", lambda env: env.int("PORT", 8000, maximum=65535)),
        ("CHAT_RATE_PER_SECOND", "fast", lambda env: env.float("CHAT_RATE_PER_SECOND", 1.0)),
        ("LOG_LEVEL", "LOUD", lambda env: env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO"])),
        ("DATABASE_URL", "mysql://u:p@h/db", lambda env: env.database("DATABASE_URL")),
        ("DATABASE_URL", "postgres://u:p@h:5432/", lambda env: env.database("DATABASE_URL")),
        ("REDIS_URL", "http://localhost:6379", lambda env: env.redis_url("REDIS_URL")),
    ],
)
def test_it_names_the_variable_in_every_error(name, value, reader):
    with pytest.raises(ImproperlyConfigured, match=name):
        reader(Env({name: value}))


def test_it_reads_good_values_and_defaults():
    env = Env({"DEBUG": "yes", "PORT": "8080", "ALLOWED_HOSTS": "a.example, b.example", "EMPTY": "  "})
    assert env.bool("DEBUG", False) is True
    assert env.int("PORT", 8000) == 8080
    assert env.list("ALLOWED_HOSTS", []) == ["a.example", "b.example"]
    assert env.str("EMPTY", "fallback") == "fallback"
    with pytest.raises(ImproperlyConfigured, match="DB is not set"):
        env.database("DB")


def test_it_spells_unix_socket_redis_urls_for_celery():
    assert celery_broker_url("unix:///tmp/x/redis.socket") == "redis+socket:///tmp/x/redis.socket"
    assert celery_broker_url("redis://h:6379/0") == "redis://h:6379/0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("CHAT_MAX_MESSAGE_CHARS", "-5"),
        ("SECRET_KEY", "short"),
        ("DATABASE_CONN_MAX_AGE", "60"),  # persistent connections with the pool on
    ],
)
def test_the_app_refuses_to_start_with_a_bad_value(db, name, value):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=child_env(**{name: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}" in result.stderr


def test_every_beat_entry_names_a_task_the_worker_registers():
    """A typo in CELERY_BEAT_SCHEDULE would make beat send messages no worker can run."""
    from django.conf import settings

    from supportbot.celery import app

    app.loader.import_default_modules()
    missing = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]
    assert missing == []
