"""Redis and Postgres restart under live sockets (issue 13, item 4).

One stack for the module, on servers it owns (tests/faults/services.py): its own Postgres and
Redis on loopback TCP ports, a real Daphne and a real Celery worker on them, run with the
application's settings (persistent database connections, as in production, so a restart leaves
stale connections behind). The customer's socket and the agent's inbox tab are clients that
follow the documented client rules (tests/faults/clients.py); the tests then stop and start the
servers under them and check what was stored and what each socket ended up holding.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from pgserver._commands import POSTGRES_BIN_PATH

from conversations.core.realtime_recovery import CLOSE_CATCH_UP
from tests import conftest
from tests.conftest import ORIGIN, PROJECT_ROOT, child_env, start_celery_worker, wait_for_http
from tests.faults.clients import ChatClient, InboxClient
from tests.faults.services import OwnPostgres, OwnRedis, free_port

# Only for the schema: the module's fixture copies the test database's tables (created when some
# test of the session is marked) into its own Postgres. The tests touch nothing else there.
# The timeout covers the stack's start (three processes importing the app) on a loaded machine.
pytestmark = [pytest.mark.django_db, pytest.mark.timeout(420)]

# Generous for a loaded 2-core machine; the measured figures are printed (pytest -s).
RECOVERY_TIMEOUT = 20.0
LIVE_TIMEOUT = 10.0
# The web process starts without preloading its models (PRELOAD_MODELS=false, a faster start), so
# the first message of each test loads spaCy in the redaction workers and the language detector.
FIRST_MESSAGE_TIMEOUT = 40.0


@dataclass
class Stack:
    postgres: OwnPostgres
    redis: OwnRedis
    base_url: str
    conversation_id: str
    conversation_pk: int
    token: str
    sessionid: str
    logs: Path

    def chat_client(self) -> ChatClient:
        ws = self.base_url.replace("http://", "ws://")
        return ChatClient(url=f"{ws}/ws/chat/{self.conversation_id}/", token=self.token, origin=ORIGIN)

    def inbox_client(self) -> InboxClient:
        ws = self.base_url.replace("http://", "ws://")
        return InboxClient(
            url=f"{ws}/ws/inbox/?conversation={self.conversation_id}", origin=self.base_url, sessionid=self.sessionid
        )

    def stored_messages(self) -> list[tuple[int, str]]:
        import psycopg

        with psycopg.connect(self.postgres.url) as connection:
            rows = connection.execute(
                "SELECT seq, text FROM conversations_message WHERE conversation_id = %s ORDER BY seq",
                [self.conversation_pk],
            ).fetchall()
        return [(seq, text) for seq, text in rows]

    def healthz(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_healthy(self, *, timeout: float) -> float:
        started = time.monotonic()
        while True:
            status, body = self.healthz()
            if status == 200:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"/healthz still {status} {body} after {timeout}s; logs in {self.logs}")
            time.sleep(0.3)

    def agent_reply(self, text: str) -> int:
        """Alice replies from the inbox over HTTP, as the composer does (CSRF included)."""
        page = f"{self.base_url}/inbox/c/{self.conversation_id}/"
        request = urllib.request.Request(page, headers={"Cookie": f"sessionid={self.sessionid}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            cookies = response.headers.get_all("Set-Cookie") or []
        csrf = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken="))
        request = urllib.request.Request(
            f"{page}reply",
            data=urllib.parse.urlencode({"text": text}).encode(),
            method="POST",
            headers={
                "Cookie": f"sessionid={self.sessionid}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "Origin": self.base_url,
                "HX-Request": "true",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status


def _copy_schema(*, source_url: str, target_url: str) -> None:
    """The schema the migrations built for this session's test database, into our own server.
    Running `migrate` on an empty database takes over a minute on this machine; the dump is the
    same schema (plus the migration records, content types and permissions) in a few seconds."""
    tables = ["django_migrations", "django_content_type", "auth_permission"]
    dumps = [
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", source_url],
        [
            str(POSTGRES_BIN_PATH / "pg_dump"),
            "--data-only",
            "--no-owner",
            "--no-privileges",
            *[f"--table={t}" for t in tables],
            source_url,
        ],
    ]
    for dump in dumps:
        sql = subprocess.run(dump, check=True, capture_output=True, timeout=120).stdout
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "psql"), "-q", "-v", "ON_ERROR_STOP=1", target_url],
            input=sql,
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory):
    started = time.monotonic()
    root = tmp_path_factory.mktemp("faults")
    logs = root / "logs"
    logs.mkdir()
    # Not under pytest's base temp: Postgres runs as another user (pgserver's, when the tests
    # run as root), which could not reach into that directory.
    pg_root = Path(tempfile.mkdtemp(prefix="supportbot-faults-"))
    postgres = OwnPostgres(pg_root / "postgres")
    postgres.start()
    redis = OwnRedis(root / "redis")
    redis.start()
    processes: list[subprocess.Popen] = []
    try:
        postgres.create_database()
        _copy_schema(source_url=conftest.test_database_url(), target_url=postgres.url)
        servers_ready = time.monotonic() - started
        env = child_env(
            # The application's own settings: persistent connections (CONN_MAX_AGE), as deployed.
            DJANGO_SETTINGS_MODULE="supportbot.settings.base",
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            SUPPORTBOT_DATA_DIR=str(root / "data"),
            PRELOAD_MODELS="false",
            HEALTHZ_CACHE_SECONDS="0",
        )
        env.pop("TEST_REDIS_URL", None)
        # The three processes start side by side: each spends most of its start importing.
        port = free_port()
        processes.append(start_celery_worker(logs / "worker.log", name="faults", **env))
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "supportbot.asgi:application"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=open(logs / "daphne.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        processes.append(daphne)
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.faults.seed"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        wait_for_http(f"http://127.0.0.1:{port}/healthz", daphne, timeout=300)
        all_up = time.monotonic() - started
        print(f"\nfaults stack: Postgres + Redis + schema {servers_ready:.1f}s, all up {all_up:.1f}s")
        yield Stack(
            postgres=postgres,
            redis=redis,
            base_url=f"http://127.0.0.1:{port}",
            conversation_id=seed["conversation_id"],
            conversation_pk=seed["conversation_pk"],
            token=seed["token"],
            sessionid=seed["sessionid"],
            logs=logs,
        )
    finally:
        for process in processes:
            # Nothing of theirs outlives the module (their servers go too): no graceful wait.
            process.kill()
            process.wait()
        if redis.process is not None:
            redis.stop()
        try:
            postgres.stop()
        except subprocess.CalledProcessError:
            pass  # a failed test may have left it stopped
        shutil.rmtree(pg_root, ignore_errors=True)


def _assert_socket_matches_store(client: ChatClient, stack: Stack) -> list[str]:
    stored = stack.stored_messages()
    texts = [text for _, text in stored]
    assert len(texts) == len(set(texts)), f"a message was stored twice: {texts}"
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert client.held == dict(stored), client.summary()
    return texts


async def _connected(stack: Stack) -> tuple[ChatClient, InboxClient]:
    customer = stack.chat_client()
    await customer.run_until(lambda c: c.resumes >= 1, timeout=LIVE_TIMEOUT)
    inbox = stack.inbox_client()
    await inbox.start()
    await inbox.wait_for('id="transcript"', since=0, timeout=LIVE_TIMEOUT)
    return customer, inbox


async def test_a_redis_restart_under_live_sockets_loses_and_duplicates_nothing(stack):
    customer, inbox = await _connected(stack)
    try:
        await customer.send_message("before the redis restart")
        await customer.run_until(lambda c: not c.pending, timeout=FIRST_MESSAGE_TIMEOUT)
        await inbox.wait_for_message("before the redis restart", since=0, timeout=LIVE_TIMEOUT)

        await asyncio.to_thread(stack.redis.stop)
        await customer.send_message("sent while redis was down")
        # The frame is answered (`unavailable`: the limits live in Redis), the socket stays.
        await customer.run_until(lambda c: c.errors, timeout=LIVE_TIMEOUT)
        assert customer.errors[-1]["code"] == "unavailable", customer.summary()
        status, body = await asyncio.to_thread(stack.healthz)
        assert status == 503 and body["redis"].startswith("error"), body

        restarted = time.monotonic()
        await asyncio.to_thread(stack.redis.start)
        # The client resends on its own (retry_after, or resume after a 1012 close) until acked.
        await customer.run_until(lambda c: not c.pending, timeout=RECOVERY_TIMEOUT)
        resent_after = time.monotonic() - restarted
        # The agent's tab catches up on what it could not get while Redis was away...
        await inbox.wait_for_message("sent while redis was down", since=restarted, timeout=RECOVERY_TIMEOUT)

        # ...and live messages flow again both ways.
        sent = time.monotonic()
        await customer.send_message("after the redis restart")
        await customer.run_until(lambda c: not c.pending, timeout=LIVE_TIMEOUT)
        customer_to_agent = await inbox.wait_for_message("after the redis restart", since=sent, timeout=LIVE_TIMEOUT)
        sent = time.monotonic()
        assert await asyncio.to_thread(stack.agent_reply, "agent reply after the redis restart") < 400
        await customer.run_until(
            lambda c: any(m["text"] == "agent reply after the redis restart" for m in c.live_messages),
            timeout=LIVE_TIMEOUT,
        )
        agent_to_customer = time.monotonic() - sent

        # Closed, if at all, only with the documented "reconnect and resume" code, never a crash.
        assert set(customer.closes) <= {CLOSE_CATCH_UP}, customer.closes
        assert not inbox.closes, inbox.closes
        texts = _assert_socket_matches_store(customer, stack)
        assert texts[:3] == ["before the redis restart", "sent while redis was down", "after the redis restart"]
        assert "agent reply after the redis restart" in texts
        healthy_after = await asyncio.to_thread(stack.wait_healthy, timeout=RECOVERY_TIMEOUT)
        print(
            f"\nredis restart: pending message stored {resent_after:.2f}s after the start; live customer->agent "
            f"{customer_to_agent:.2f}s, agent->customer {agent_to_customer:.2f}s; /healthz 200 after "
            f"{healthy_after:.2f}s more; chat closes {customer.closes}, inbox closes {inbox.closes}, "
            f"duplicates dropped by the client {customer.duplicates}"
        )
    finally:
        await customer.close()
        await inbox.stop()


async def test_a_postgres_restart_answers_unavailable_then_resumes_with_nothing_lost(stack):
    customer, inbox = await _connected(stack)
    try:
        await customer.send_message("before the postgres restart")
        await customer.run_until(lambda c: not c.pending, timeout=FIRST_MESSAGE_TIMEOUT)

        await asyncio.to_thread(stack.postgres.stop)
        await customer.send_message("sent while postgres was down")
        await customer.run_until(lambda c: c.errors, timeout=LIVE_TIMEOUT)
        assert customer.errors[-1]["code"] == "unavailable", customer.summary()
        assert "retry_after" in customer.errors[-1]
        assert customer.socket is not None and not customer.closes, "the socket must stay open"
        status, body = await asyncio.to_thread(stack.healthz)
        assert status == 503 and body["database"].startswith("error"), body

        restarted = time.monotonic()
        await asyncio.to_thread(stack.postgres.start)
        await customer.run_until(lambda c: not c.pending, timeout=RECOVERY_TIMEOUT)
        resent_after = time.monotonic() - restarted
        await inbox.wait_for_message("sent while postgres was down", since=restarted, timeout=RECOVERY_TIMEOUT)

        sent = time.monotonic()
        await customer.send_message("after the postgres restart")
        await customer.run_until(lambda c: not c.pending, timeout=LIVE_TIMEOUT)
        customer_to_agent = await inbox.wait_for_message("after the postgres restart", since=sent, timeout=LIVE_TIMEOUT)
        sent = time.monotonic()
        assert await asyncio.to_thread(stack.agent_reply, "agent reply after the postgres restart") < 400
        await customer.run_until(
            lambda c: any(m["text"] == "agent reply after the postgres restart" for m in c.live_messages),
            timeout=LIVE_TIMEOUT,
        )
        agent_to_customer = time.monotonic() - sent

        assert not customer.closes and not inbox.closes, (customer.closes, inbox.closes)
        texts = _assert_socket_matches_store(customer, stack)
        tail = texts[texts.index("before the postgres restart") :]
        assert tail[:3] == ["before the postgres restart", "sent while postgres was down", "after the postgres restart"]
        healthy_after = await asyncio.to_thread(stack.wait_healthy, timeout=RECOVERY_TIMEOUT)
        unavailable = sum(1 for e in customer.errors if e["code"] == "unavailable")
        print(
            f"\npostgres restart: pending message stored {resent_after:.2f}s after the start "
            f"({unavailable} `unavailable` answers in all); live customer->agent {customer_to_agent:.2f}s, "
            f"agent->customer {agent_to_customer:.2f}s; /healthz 200 after {healthy_after:.2f}s more; "
            f"chat closes {customer.closes}, inbox closes {inbox.closes}"
        )
    finally:
        await customer.close()
        await inbox.stop()
