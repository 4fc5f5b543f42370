"""GET /healthz reports database, Redis and a real Celery worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from supportbot.celery import app
from tests.conftest import PROJECT_ROOT, child_env, stop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_checks(settings):
    """These tests watch the checks change: each request checks anew (the cache has its own test)."""
    settings.HEALTHZ_CACHE_SECONDS = 0


def test_it_is_503_and_names_the_worker_when_no_worker_runs(client):
    app.control.purge()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "ok",
        "worker": "error: no worker answered",
    }


def test_it_is_200_with_a_live_worker(client, tmp_path):
    worker = subprocess.Popen(
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
            "WARNING",
            "--hostname",
            "healthz-test@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=PROJECT_ROOT,
        env=child_env(),
        stdout=open(tmp_path / "worker.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        response = None
        for _ in range(60):
            response = client.get("/healthz")
            if response.status_code == 200:
                break
        assert response is not None and response.status_code == 200, (tmp_path / "worker.log").read_text()
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "worker": "ok"}
    finally:
        stop(worker)
