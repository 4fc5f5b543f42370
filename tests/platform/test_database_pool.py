"""Each process takes its Postgres connections from a bounded pool (DATABASE_POOL_MAX_SIZE).

Django serves every HTTP request on a thread of its own; with persistent per-thread connections
each request left its connection open after its thread ended, so a burst of widget sessions
opened hundreds of connections and Postgres refused the rest ("too many clients already")."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import urllib.parse

import httpx
import psycopg
import pytest

from conversations.models import WidgetSite
from tests.conftest import free_port, start_daphne, stop
from tests.conftest import test_database_url as database_url  # not collected as a test

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

POOL_SIZE = 3
APPLICATION_NAME = "pool-bound-test"


def _connections_of(url: str, application_name: str) -> int:
    with psycopg.connect(url, autocommit=True) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name]
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_burst_of_widget_sessions_never_holds_more_connections_than_the_pool(tmp_path):
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    WidgetSite.objects.create(key="pool-site", name="Pool Co", allowed_origins=[origin], bot_enabled=False)
    base_url = database_url()
    server_url = (
        base_url + ("&" if "?" in base_url else "?") + urllib.parse.urlencode({"application_name": APPLICATION_NAME})
    )
    process = start_daphne(
        port,
        tmp_path / "daphne.log",
        DATABASE_URL=server_url,
        DATABASE_POOL_MAX_SIZE=str(POOL_SIZE),
        LIMIT_CONVERSATIONS_PER_IP_PER_HOUR="1000",  # every client here is 127.0.0.1
        PRELOAD_MODELS="false",
    )
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _connections_of(base_url, APPLICATION_NAME))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    try:
        watcher.start()

        def open_session(_: int) -> int:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/widget/conversations",
                json={"site_key": "pool-site"},
                headers={"Origin": origin},
                timeout=60,
            )
            return response.status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as clients:
            statuses = list(clients.map(open_session, range(36)))
        time.sleep(0.3)  # connections a request left behind would still be open now
        after = _connections_of(base_url, APPLICATION_NAME)
    finally:
        done.set()
        watcher.join()
        stop(process)
    assert statuses == [201] * 36, statuses
    assert 0 < peak <= POOL_SIZE, f"the server held {peak} connections at once with a pool of {POOL_SIZE}"
    assert after <= POOL_SIZE
