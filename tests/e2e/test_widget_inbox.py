"""End to end in headless Chromium against a live Daphne server on the real stack.

A customer writes from the widget on the demo host page; the agent sees it live in the inbox and
replies; the widget shows the reply. Then the server goes away mid-conversation, the customer
keeps writing, and after the server is back both sides hold every message exactly once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from PIL import Image
from playwright.sync_api import Page, expect

from conversations.models import Message
from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.servers import LiveServer, demo_site_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]


@pytest.fixture
def daphne_server(e2e_server) -> LiveServer:
    demo_site_create(
        e2e_server,
        bot_enabled=False,
        handoff_when_bot_off=False,  # these tests are about the customer-agent channel; test_bot_flows.py covers the bot
    )
    return e2e_server


def agent_logs_in(page: Page, base: str) -> None:
    page.goto(f"{base}/inbox/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conversation-list")).to_be_visible()


def customer_sends(page: Page, text: str) -> None:
    box = page.locator("#supportbot-widget .composer textarea")
    box.fill(text)
    box.press("Enter")


# A file name is text wherever it is shown: this one must not become an element.
PHOTO_NAME = "<img src=x onerror=alert(1)> damage.png"
WIDGET_IMAGE = "document.querySelector('#supportbot-widget').shadowRoot.querySelector('.attachment-image img')"
INBOX_IMAGE = "document.querySelector('#transcript .attachment-image img')"


def customer_attaches(page: Page, tmp_path, *, text: str) -> None:
    photo = tmp_path / PHOTO_NAME
    Image.new("RGB", (900, 600), (30, 160, 90)).save(photo, format="PNG")
    page.locator("#supportbot-widget .composer textarea").fill(text)
    page.locator("#supportbot-widget .attach-input").set_input_files(str(photo))
    sent = page.locator("#supportbot-widget .row.role-customer:not(.pending)", has_text=text)
    expect(sent.locator(".attachment-image img")).to_have_attribute("alt", PHOTO_NAME, timeout=10_000)


def image_shown(page: Page, selector_js: str) -> None:
    """The image was fetched and decoded (a refused fetch leaves naturalWidth at 0)."""
    page.wait_for_function(
        f"() => {{ const i = {selector_js}; return !!i && i.complete && i.naturalWidth > 0; }}", timeout=10_000
    )


def bubbles(page: Page, text: str):
    return page.locator("#supportbot-widget .bubble", has_text=text)


def test_customer_and_agent_chat_live_and_lose_nothing_across_a_server_restart(daphne_server, browser, alice, tmp_path):
    base = daphne_server.url
    agent_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    customer_page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    pages = {"agent": agent_page, "customer": customer_page}
    try:
        agent_logs_in(agent_page, base)

        customer_page.goto(f"{base}/")
        customer_page.locator("#supportbot-widget .launcher").click()
        expect(customer_page.locator("#supportbot-widget .title")).to_have_text("Acme Outfitters")
        customer_sends(customer_page, "Hi, my order A1234 hasn't arrived")
        expect(customer_page.locator("#supportbot-widget .row.role-customer:not(.pending)")).to_have_count(1)

        # The agent's open inbox shows the new conversation without a reload.
        conversation_link = agent_page.locator("#conversation-list a.conv", has_text="hasn't arrived")
        expect(conversation_link).to_be_visible(timeout=10_000)
        conversation_link.click()
        expect(agent_page.locator("#transcript")).to_contain_text("Hi, my order A1234 hasn't arrived")
        agent_page.fill("#reply-text", "Sorry about that, let me check.")
        agent_page.press("#reply-text", "Enter")

        reply = customer_page.locator("#supportbot-widget .row.role-agent")
        expect(reply.locator(".bubble")).to_have_text("Sorry about that, let me check.", timeout=10_000)
        expect(reply.locator(".name")).to_have_text("Alice")
        expect(customer_page.locator("#supportbot-widget .status-line")).to_have_text("You're chatting with Alice")

        # The customer attaches a photo; the agent sees it in the inbox. Its name is text, not markup.
        customer_attaches(customer_page, tmp_path, text="The box arrived crushed")
        image_shown(customer_page, WIDGET_IMAGE)
        expect(agent_page.locator("#transcript .attachment-image img")).to_have_attribute(
            "alt", PHOTO_NAME, timeout=10_000
        )
        image_shown(agent_page, INBOX_IMAGE)

        # The server goes away mid-conversation; the customer keeps typing.
        daphne_server.stop()
        expect(customer_page.locator("#supportbot-widget .connection")).to_be_visible(timeout=10_000)
        customer_sends(customer_page, "First while offline")
        customer_sends(customer_page, "<b>second</b> while offline")
        expect(customer_page.locator("#supportbot-widget .row.pending")).to_have_count(2)

        daphne_server.start()  # the same port, a new process

        expect(customer_page.locator("#supportbot-widget .row.pending")).to_have_count(0, timeout=45_000)
        expect(agent_page.locator("#transcript")).to_contain_text("<b>second</b> while offline", timeout=45_000)
        agent_page.fill("#reply-text", "Got both, thanks!")
        agent_page.press("#reply-text", "Enter")
        expect(bubbles(customer_page, "Got both, thanks!")).to_have_count(1, timeout=10_000)

        every_text = [
            "Hi, my order A1234 hasn't arrived",
            "Sorry about that, let me check.",
            "The box arrived crushed",
            "First while offline",
            "<b>second</b> while offline",
            "Got both, thanks!",
        ]
        for text in every_text:
            assert Message.objects.filter(text=text).count() == 1, text
            expect(bubbles(customer_page, text)).to_have_count(1)
            expect(agent_page.locator("#transcript .msg-text", has_text=text)).to_have_count(1)
        # Text is rendered as text on both sides, never as markup.
        assert customer_page.locator("#supportbot-widget .bubble b").count() == 0
        assert agent_page.locator("#transcript .msg-text b").count() == 0
        assert customer_page.locator("#supportbot-widget img[src='x']").count() == 0
        assert agent_page.locator("#transcript img[src='x']").count() == 0

        # A reload keeps the conversation and shows its whole history once.
        customer_page.reload()
        customer_page.locator("#supportbot-widget .launcher").click()
        for text in every_text:
            expect(bubbles(customer_page, text)).to_have_count(1, timeout=10_000)
        image_shown(customer_page, WIDGET_IMAGE)  # replayed, with this socket's own file token
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in pages.items():
            page.screenshot(path=str(ARTIFACTS / f"e2e-{name}.png"), full_page=True)
        (ARTIFACTS / "e2e-daphne.log").write_text(daphne_server.log_since_test())
        raise


def test_the_widget_works_at_360px_and_is_keyboard_operable(daphne_server, browser):
    page = browser.new_context(viewport={"width": 360, "height": 640}).new_page()
    page.goto(f"{daphne_server.url}/")
    page.keyboard.press("Tab")  # the launcher is the first focusable element on the demo page after its links
    launcher = page.locator("#supportbot-widget .launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#supportbot-widget .panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] == 360  # full screen under 480 px
    expect(page.locator("#supportbot-widget .composer textarea")).to_be_focused()
    expect(page.locator("#supportbot-widget .messages")).to_have_attribute("aria-live", "polite")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_replies_that_arrive_while_the_panel_is_closed_show_as_unread_until_seen(daphne_server, browser, alice):
    from conversations.flows.messages import agent_message_post
    from conversations.models import Conversation

    page = browser.new_context(viewport={"width": 1024, "height": 700}).new_page()
    page.goto(f"{daphne_server.url}/")
    launcher = page.locator("#supportbot-widget .launcher")
    badge = page.locator("#supportbot-widget .badge")
    launcher.click()
    customer_sends(page, "Do you ship to Norway?")
    expect(page.locator("#supportbot-widget .row.role-customer:not(.pending)")).to_have_count(1)
    launcher.click()  # close the panel
    expect(page.locator("#supportbot-widget .panel")).to_be_hidden()

    conversation = Conversation.objects.get()
    # From another thread: publishing uses async_to_sync, which refuses to run on the thread
    # where Playwright's event loop lives.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            agent_message_post, conversation_id=conversation.pk, agent=alice, text="We do, in 3-5 days."
        ).result()
    expect(badge).to_have_text("1", timeout=10_000)
    expect(launcher).to_have_attribute("aria-label", "Open chat, 1 unread")

    page.reload()  # still unread after a reload: the last-read seq is kept, not the open state
    expect(badge).to_have_text("1", timeout=10_000)
    page.locator("#supportbot-widget .launcher").click()
    expect(badge).to_be_hidden()
    expect(bubbles(page, "We do, in 3-5 days.")).to_have_count(1)

    page.reload()  # seen now: no badge after the replay
    expect(page.locator("#supportbot-widget .row.role-agent")).to_have_count(1, timeout=10_000)
    expect(page.locator("#supportbot-widget .badge")).to_be_hidden()


def test_the_widget_keeps_its_token_out_of_urls_and_forgets_a_signed_out_customer(daphne_server, browser):
    from demoshop.models import ShopCustomer

    ShopCustomer.objects.create(external_id="C-7", name="Dana", email="dana@example.com", address="1 Main St")
    page = browser.new_context(viewport={"width": 1024, "height": 700}).new_page()
    socket_urls: list[str] = []
    page.on("websocket", lambda socket: socket_urls.append(socket.url))
    page.goto(f"{daphne_server.url}/?as=C-7")
    page.locator("#supportbot-widget .launcher").click()
    customer_sends(page, "Where is my parcel?")
    expect(page.locator("#supportbot-widget .row.role-customer:not(.pending)")).to_have_count(1)
    assert socket_urls and not any("token" in url for url in socket_urls)
    assert f"supportbot:{settings.DEMO_SITE_KEY}:C-7" in page.evaluate("Object.keys(localStorage)")

    # Signed out of the host site, same browser: nothing of Dana's conversation is kept.
    page.goto(f"{daphne_server.url}/")
    keys = page.evaluate("Object.keys(localStorage)")
    assert not any(key.endswith(":C-7") for key in keys)
    page.locator("#supportbot-widget .launcher").click()
    expect(page.locator("#supportbot-widget .composer textarea")).to_be_visible()
    expect(bubbles(page, "Where is my parcel?")).to_have_count(0)
