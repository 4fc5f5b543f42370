"""Bot fixtures and helpers (a pytest plugin loaded by tests/conftest.py): the demo shop served over real HTTP (pytest-django's live server), a few
indexed articles, the fake OpenAI-compatible model server, and a widget socket."""

from __future__ import annotations

import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from conversations.chat.widget_sessions import SignedUser, widget_session_open
from conversations.lib.identity import identity_expiry_default, identity_signature
from demoshop.models import Order
from demoshop.seed import demoshop_seed
from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.services import article_save
from tests.conftest import ORIGIN
from tests.fakes.model_server import FakeModelServer
from tests.socket_support import chat_communicator

ARTICLES = [
    (
        "returns",
        "Returns and refunds",
        "public",
        "# Returning an order\n\nYou can return delivered items within 30 days for a full refund. Refunds reach the "
        "original payment method within 5 business days of the return being processed.",
    ),
    (
        "shipping",
        "Shipping times",
        "public",
        "# Standard shipping\n\nStandard shipping takes 3 to 5 business days within the US.\n\n# Express\n\n"
        "Express orders placed before 2 pm ship the same day.",
    ),
    (
        "warranty-playbook",
        "Warranty override playbook",
        "internal",
        "# Warranty override\n\nAgents may approve a warranty override for tents bought within three years.",
    ),
]


@pytest.fixture
def shop(live_server, settings):
    demoshop_seed()
    settings.COMMERCE_API_URL = f"{live_server.url}/demoshop/api"
    settings.COMMERCE_API_KEY = settings.DEMOSHOP_API_KEY
    return {o.status: o.number for o in Order.objects.filter(customer__external_id="cust_1001")}


@pytest.fixture
def articles(db):
    for slug, title, audience, body in ARTICLES:
        article = article_save(
            article=Article(slug=slug, title=title, audience=audience, body=body, status="published")
        )
        assert article_index(article_id=article.pk) == "indexed"


@pytest.fixture
def model_server(settings):
    server = FakeModelServer().start()
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_MAX_RETRIES = 1
    settings.LLM_TIMEOUT_SECONDS = 2.0
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_circuit_breaker():
    from supportbot.llm import gateway

    gateway._breaker.cache_clear()
    gateway._gateways.clear()
    yield


async def opened(site, *, customer_id: str | None = None):
    """A widget session for `site` (anonymous, or signed in as the shop's customer_id)."""
    return await sync_to_async(open_session)(site, customer_id=customer_id)


def open_session(site, *, customer_id: str | None = None):
    user = None
    if customer_id:
        expires = identity_expiry_default()
        signature = identity_signature(secret=site.identity_secret, user_id=customer_id, expires=expires)
        user = SignedUser(id=customer_id, expires=expires, signature=signature)
    return widget_session_open(site_key=site.key, origin=ORIGIN, user=user)


class Chat:
    """A widget socket that collects every frame, with helpers to wait for the bot."""

    def __init__(self, session) -> None:
        self.session = session
        self.comm = chat_communicator(f"/ws/chat/{session.conversation.public_id}/?token={session.token}")
        self.frames: list[dict] = []

    async def __aenter__(self) -> Chat:
        ok, _ = await self.comm.connect(timeout=10)
        assert ok
        return self

    async def __aexit__(self, *exc) -> None:
        await self.comm.disconnect()

    async def say(self, text: str) -> None:
        await self.comm.send_json_to({"type": "message", "client_id": str(uuid.uuid4()), "text": text})

    async def send(self, frame: dict) -> None:
        await self.comm.send_json_to(frame)

    async def wait_for(self, predicate, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = await self.comm.receive_json_from(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                break
            self.frames.append(frame)
            if predicate(frame):
                return frame
        raise AssertionError(f"no matching frame within {timeout}s; got {self.frames[-12:]}")

    async def bot_message(self, timeout: float = 20.0) -> dict:
        return await self.wait_for(lambda f: f["type"] == "message" and f["role"] == "bot", timeout)

    def deltas(self) -> list[dict]:
        return [f for f in self.frames if f["type"] == "delta"]
