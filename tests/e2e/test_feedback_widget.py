"""Thumbs on a bot answer in the real widget (headless Chromium, Daphne, offline responder):
keyboard only, the comment after a thumbs-down, stored redacted, the state kept over a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.models import MessageFeedback
from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.services import article_save
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.servers import LiveServer, demo_site_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]


@pytest.fixture
def feedback_server(e2e_server) -> LiveServer:
    demo_site_create(e2e_server)
    article = article_save(
        article=Article(
            slug="returns",
            title="Returns and refunds",
            status="published",
            body="# Returning an order\n\nYou can return delivered items within 30 days for a full refund.",
        )
    )
    assert article_index(article_id=article.pk) == "indexed"
    return e2e_server


def test_a_visitor_rates_an_answer_down_with_the_keyboard_and_adds_a_comment(feedback_server, browser):
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    widget = "#supportbot-widget"
    try:
        page.goto(feedback_server.url)
        page.locator(f"{widget} .launcher").click()
        box = page.locator(f"{widget} .composer textarea")
        box.fill("How long do I have to return something for a refund?")
        box.press("Enter")
        answer = page.locator(f"{widget} .row.role-bot", has_text="30 days")
        expect(answer).to_be_visible(timeout=20_000)
        # Thumbs under the bot's answer only, not under the customer's message.
        expect(answer.locator(".feedback > button")).to_have_count(2)
        assert page.locator(f"{widget} .row.role-customer .feedback").count() == 0

        down = answer.get_by_role("button", name="Not helpful")
        down.focus()
        page.keyboard.press("Enter")
        expect(down).to_have_attribute("aria-pressed", "true", timeout=10_000)
        expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "false")
        comment = answer.locator(".feedback-comment input")
        expect(comment).to_be_focused()
        comment.type('<img src=x onerror="window.__xss=1"> say how to ship it back, mail jo.smith@example.com')
        page.keyboard.press("Enter")
        expect(answer.locator(".feedback-note")).to_have_text("Thanks for telling us.", timeout=10_000)
        expect(answer.locator(".feedback-comment")).to_be_hidden()
        assert page.evaluate("window.__xss") is None

        feedback = MessageFeedback.objects.get()
        assert feedback.rating == "down" and "say how to ship it back" in feedback.comment
        assert "jo.smith@example.com" not in feedback.comment and "<EMAIL_ADDRESS_" in feedback.comment

        page.reload()  # the rating this browser gave is shown again
        page.locator(f"{widget} .launcher").click()
        answer = page.locator(f"{widget} .row.role-bot", has_text="30 days")
        expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute(
            "aria-pressed", "true", timeout=20_000
        )
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "feedback-widget.png"))
        print(feedback_server.log_since_test()[-4000:])
        raise
