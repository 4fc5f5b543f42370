"""The widget in the host page's language (headless Chromium, Daphne): a German page gets German
texts from the server, and the conversation is stored with the page's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.servers import LiveServer, demo_site_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]


@pytest.fixture
def server(e2e_server) -> LiveServer:
    demo_site_create(e2e_server, bot_enabled=False, handoff_when_bot_off=False)
    return e2e_server


def test_a_german_page_shows_the_widget_in_german(server, browser):
    page = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-US").new_page()
    # The demo host page declares <html lang="en">: serve it as a German shop would.
    page.route(
        f"{server.url}/",
        lambda route: route.fulfill(
            response=(response := route.fetch()),
            body=response.text().replace('<html lang="en">', '<html lang="de">', 1),
        ),
    )
    widget = "#supportbot-widget"
    try:
        page.goto(server.url)
        launcher = page.locator(f"{widget} .launcher")
        expect(launcher).to_have_attribute("aria-label", "Chat öffnen", timeout=20_000)
        launcher.click()
        expect(page.locator(f"{widget} .human")).to_have_text("Mit einem Menschen sprechen")
        expect(page.locator(f"{widget} .composer textarea")).to_have_attribute("placeholder", "Nachricht schreiben…")
        expect(page.locator(f"{widget} .status-line")).to_have_text("Antwortet meist sofort", timeout=20_000)
        expect(page.locator(f"{widget} .greeting")).to_have_text("Hallo! Fragen Sie uns, was Sie möchten.")
        conversation = Conversation.objects.get()
        assert (conversation.widget_language, conversation.language) == ("de", "de")
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-language.png"))
        print(server.log_since_test()[-4000:])
        raise
