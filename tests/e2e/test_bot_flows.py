"""The bot end to end in headless Chromium: a signed-in demo customer asks a question and gets a
cited answer, then returns an order through an action card, all through the real widget,
Daphne, the offline responder and the demo shop over HTTP."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from conversations.models import ActionAttempt
from demoshop.models import Order
from demoshop.seed import demoshop_seed
from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.services import article_save
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.servers import LiveServer, demo_site_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]


def _site_and_shop(server: LiveServer) -> None:
    demo_site_create(server)
    demoshop_seed()
    article = article_save(
        article=Article(
            slug="returns",
            title="Returns and refunds",
            status="published",
            body="# Returning an order\n\nYou can return delivered items within 30 days for a full refund.",
        )
    )
    assert article_index(article_id=article.pk) == "indexed"


@pytest.fixture
def bot_server(e2e_server) -> LiveServer:
    _site_and_shop(e2e_server)
    return e2e_server


@pytest.fixture
def strict_bot_server(_servers, transactional_db) -> LiveServer:
    """A server of its own, with one frame per four seconds after the first (STRICT_RATE_LIMITS):
    a confirm right after a message is refused."""
    server = _servers["strict"]
    server.test_begins()
    _site_and_shop(server)
    return server


def test_a_signed_in_customer_gets_a_cited_answer_and_returns_an_order_through_an_action_card(bot_server, browser):
    delivered = Order.objects.get(customer__external_id="cust_1001", status="delivered").number
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    try:
        page.goto(f"{bot_server.url}/?as=cust_1001")
        page.locator("#supportbot-widget .launcher").click()
        box = page.locator("#supportbot-widget .composer textarea")

        box.fill("How long do I have to return something for a refund?")
        box.press("Enter")
        answer = page.locator("#supportbot-widget .row.role-bot .bubble", has_text="30 days")
        expect(answer).to_be_visible(timeout=20_000)
        chip = page.locator("#supportbot-widget a.chip", has_text="Returns and refunds")
        expect(chip).to_have_attribute("href", f"{bot_server.url}/help/returns/#returning-an-order")

        # Customer and bot text is rendered as text: an XSS payload stays inert.
        box.fill('<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>')
        box.press("Enter")
        expect(page.locator("#supportbot-widget .bubble", has_text="<img src=x")).to_be_visible(timeout=10_000)
        expect(page.locator("#supportbot-widget .row.role-bot")).to_have_count(2, timeout=20_000)
        assert page.locator("#supportbot-widget .bubble img, #supportbot-widget .bubble script").count() == 0
        assert page.evaluate("window.__xss") is None

        box.fill(f"I want to return order {delivered} please")
        box.press("Enter")
        card = page.locator("#supportbot-widget .action-card").first
        expect(card).to_contain_text(f"Return order {delivered}", timeout=20_000)
        expect(card).to_contain_text("Waiting for your confirmation")
        card.locator("button.action-confirm").click()
        expect(
            page.locator("#supportbot-widget .bubble", has_text=f"Done: order {delivered} is registered as returned")
        ).to_be_visible(timeout=20_000)
        expect(card.locator("button.action-confirm")).to_be_disabled()
        assert Order.objects.get(number=delivered).status == "returned"

        page.reload()  # the decided card stays decided
        page.locator("#supportbot-widget .launcher").click()
        card = page.locator("#supportbot-widget .action-card").first
        expect(card).to_contain_text("Done", timeout=20_000)
        expect(card.locator("button.action-confirm")).to_be_disabled()
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "bot-flow.png"))
        print(bot_server.log_since_test()[-4000:])
        raise


def test_the_terminal_client_speaks_the_same_protocol(bot_server):
    import subprocess
    import sys
    import time

    from tests.conftest import PROJECT_ROOT, child_env

    process = subprocess.Popen(
        [sys.executable, "manage.py", "chat", "--as", "cust_1001", "--url", bot_server.url],
        cwd=PROJECT_ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        process.stdin.write("How long do I have to return something for a refund?\n")
        process.stdin.flush()
        seen = ""
        deadline = time.monotonic() + 60
        while "source: Returns and refunds" not in seen and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen += line
        assert "Connected to Acme Outfitters as cust_1001" in seen
        assert "30 days" in seen and "source: Returns and refunds" in seen, seen
        process.stdin.write("/quit\n")
        process.stdin.flush()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_confirm_and_a_request_for_a_human_refused_by_the_rate_limit_are_sent_again(strict_bot_server, browser):
    """The widget keeps a decision until a stored message answers it (a request for a human until
    the status says queued) and resends it after rate_limited: never lost, never run twice."""
    server = strict_bot_server
    delivered = Order.objects.get(customer__external_id="cust_1001", status="delivered").number
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    sent, received = [], []

    def watch(socket):
        socket.on("framesent", lambda payload: sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", watch)
    try:
        page.goto(f"{server.url}/?as=cust_1001")
        page.locator("#supportbot-widget .launcher").click()
        box = page.locator("#supportbot-widget .composer textarea")
        box.fill(f"I want to return order {delivered} please")
        box.press("Enter")
        card = page.locator("#supportbot-widget .action-card").first
        expect(card).to_contain_text("Waiting for your confirmation", timeout=30_000)
        card.locator("button.action-confirm").click()
        expect(card).to_contain_text("Working on it")
        # No token is left right after the confirm: this request is refused at first too.
        page.locator("#supportbot-widget button.human").click()
        expect(page.locator("#supportbot-widget .bubble", has_text=f"Done: order {delivered}")).to_be_visible(
            timeout=30_000
        )
        expect(page.locator("#supportbot-widget .status-line")).to_contain_text("in line", timeout=30_000)
        assert Order.objects.get(number=delivered).status == "returned"
        assert any(f["type"] == "error" and f["code"] == "rate_limited" for f in received)
        confirms = [f for f in sent if f["type"] == "action"]
        asks = [f for f in sent if f["type"] == "request_human"]
        assert len(confirms) >= 2 and len(asks) >= 2, sent  # refused, then sent again...
        assert ActionAttempt.objects.count() == 1  # ...and the change ran once
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "bot-flow-rate-limited.png"))
        print(server.log_since_test()[-4000:])
        raise
