"""The handoff end to end in Chromium with two browser contexts, on live Daphne and a real Celery
worker: the customer asks for a human in the widget and sees their place in line; the agent
finds it waiting with the summary and reason, claims it, they talk live (with an internal note
and a saved reply on the way), the agent resolves with a reason, and the customer rates."""

from __future__ import annotations

import re
import shutil
import socket
import time

import pytest
from playwright.sync_api import expect

from conversations.models import (
    AgentProfile,
    CannedResponse,
    Conversation,
    Handoff,
    InternalNote,
    Queue,
    Team,
)
from supportbot.celery import app as celery_app
from tests.conftest import start_celery_worker, stop
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.servers import demo_site_create
from tests.e2e.test_widget_inbox import agent_logs_in, customer_sends

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]


@pytest.fixture
def stack(e2e_server, tmp_path, alice):
    demo_site_create(e2e_server, bot_enabled=False, handoff_when_bot_off=False)
    team = Team.objects.create(name="Support team")
    team.members.add(alice)
    Queue.objects.create(name="General", is_default=True).teams.add(team)
    CannedResponse.objects.create(
        shortcut="hello", title="Greeting", text="Hi, thanks for waiting! Looking into it now."
    )
    # Away: she is not auto-assigned, so she claims it herself.
    AgentProfile.objects.create(user=alice, presence="away")
    celery_app.control.purge()
    worker = start_celery_worker(tmp_path / "worker.log", name="e2e-handoff")
    # Ready before the customer asks: the server no longer starts alongside it (it is shared), and
    # the widget expects its place in line within 15 s of asking.
    deadline = time.monotonic() + 120
    while not celery_app.control.ping(destination=[f"e2e-handoff@{socket.gethostname()}"], timeout=1.0):
        assert worker.poll() is None, "the Celery worker exited at start"
        assert time.monotonic() < deadline, "the Celery worker did not answer a ping within 120 s"
    yield {"url": e2e_server.url, "logs": [tmp_path / "worker.log"], "server": e2e_server}
    stop(worker)


def open_from_list(page, row) -> None:
    """Click a conversation in the list. The socket swaps in a fresh list whenever the inbox
    changes (the handoff's own events land around now), and a swap between mouse-down and
    mouse-up loses the click, as it would for a person, who clicks again: so does this."""
    row.click()
    try:
        expect(page).to_have_url(re.compile(r"/inbox/c/"), timeout=5_000)
    except AssertionError:
        row.click()
        expect(page).to_have_url(re.compile(r"/inbox/c/"), timeout=10_000)


def test_ask_for_a_human_claim_talk_resolve_and_rate(stack, browser):
    base = stack["url"]
    agent_page = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
    customer_page = browser.new_context(viewport={"width": 400, "height": 760}).new_page()
    widget = customer_page.locator("#supportbot-widget")
    try:
        customer_page.goto(f"{base}/")
        widget.locator(".launcher").click()
        customer_sends(customer_page, "My refund for order A1234 hasn't arrived")
        expect(widget.locator(".row.role-customer:not(.pending)")).to_have_count(1)
        widget.locator("button.human").click()
        expect(widget.locator(".status-line")).to_have_text("You're #1 in line · about 5 min", timeout=15_000)
        expect(widget.locator(".system-note", has_text="You're number 1 in line")).to_be_visible(timeout=15_000)

        agent_logs_in(agent_page, base)
        agent_page.goto(f"{base}/inbox/?view=waiting")
        row = agent_page.locator("#conversation-list a.conv")
        expect(row).to_have_count(1)
        expect(row.locator(".badge.reason")).to_have_text("Asked for a human")
        expect(agent_page.locator(".queue[data-queue=General] .queue-count")).to_have_text("1")
        open_from_list(agent_page, row)
        expect(agent_page.locator(".handoff-card .summary")).to_contain_text("hasn't arrived", timeout=15_000)
        agent_page.fill("#reply-text", "draft")
        agent_page.get_by_role("button", name="Claim").click()
        # The header follows live; the page is not reloaded, so a started draft stays.
        expect(agent_page.locator("#conversation-header .badge.assignee")).to_have_text("Assigned to Alice")
        expect(agent_page.get_by_role("button", name="Claim")).to_have_count(0)
        expect(agent_page.locator("#reply-text")).to_have_value("draft")
        agent_page.fill("#reply-text", "")

        expect(widget.locator(".system-note", has_text="Alice joined the conversation.")).to_be_visible(timeout=10_000)
        expect(widget.locator(".status-line")).to_have_text("You're chatting with Alice")

        # An internal note stays with the team.
        agent_page.get_by_role("radio", name="Internal note").check()
        agent_page.fill("#reply-text", "Refund was issued on the 3rd; check with payments.")
        agent_page.press("#reply-text", "Enter")
        expect(agent_page.locator("#transcript .note")).to_contain_text("Refund was issued on the 3rd")
        # A saved reply through the /shortcut menu.
        agent_page.get_by_role("radio", name="Reply", exact=True).check()
        agent_page.locator("#reply-text").press_sequentially("/hel")
        expect(agent_page.locator("#canned-menu li")).to_have_count(1)
        agent_page.press("#reply-text", "Enter")
        expect(agent_page.locator("#reply-text")).to_have_value("Hi, thanks for waiting! Looking into it now.")
        agent_page.press("#reply-text", "Enter")
        expect(widget.locator(".row.role-agent .bubble")).to_have_text(
            "Hi, thanks for waiting! Looking into it now.", timeout=10_000
        )
        customer_sends(customer_page, "Thank you!")
        expect(agent_page.locator("#transcript")).to_contain_text("Thank you!", timeout=10_000)

        agent_page.select_option("#resolution-reason", "order_fixed")
        with agent_page.expect_navigation():  # resolving refreshes the page (HX-Refresh)
            agent_page.get_by_role("button", name="Resolve").click()
        expect(agent_page.locator("#conversation-header .badge.status-resolved")).to_be_visible()
        expect(widget.locator(".csat")).to_be_visible(timeout=10_000)
        widget.locator(".csat-score[data-score='5']").click()
        expect(widget.locator(".csat-thanks")).to_be_visible()
        widget.locator(".csat-comment textarea").fill("Alice was great")
        widget.locator(".csat-comment button").click()

        # The rating reaches the open inbox live, without a reload.
        expect(agent_page.locator("#conversation-header .badge.csat")).to_have_text("CSAT 5/5", timeout=10_000)
        expect(agent_page.locator("#conversation-header .badge.csat")).to_have_attribute("title", "Alice was great")
        conversation = Conversation.objects.get()
        assert (conversation.status, conversation.resolution_reason, conversation.csat_score) == (
            "resolved",
            "order_fixed",
            5,
        )
        assert conversation.csat_comment == "Alice was great"
        handoff = Handoff.objects.get()
        assert (handoff.status, handoff.assignee.username) == ("resolved", "alice") and handoff.first_response_at
        assert "Refund was issued" not in widget.inner_text()
        assert InternalNote.objects.count() == 1
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in (("handoff-agent", agent_page), ("handoff-customer", customer_page)):
            page.screenshot(path=str(ARTIFACTS / f"e2e-{name}.png"), full_page=True)
        for log in stack["logs"]:
            if log.exists():
                shutil.copy(log, ARTIFACTS / f"handoff-{log.name}")
        (ARTIFACTS / "handoff-daphne.log").write_text(stack["server"].log_since_test())
