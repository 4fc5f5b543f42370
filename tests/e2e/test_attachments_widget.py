"""End to end in headless Chromium: a customer attaches a photo in the widget; the agent sees it
in the inbox. Files go to a directory of the test's own, set through ATTACHMENTS_STORAGE_OPTIONS
as a deployment would."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image
from playwright.sync_api import expect

from conversations.attachments.models import Attachment
from tests.conftest import start_daphne, stop
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_widget_inbox import agent_logs_in, site_for_port  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

# A file name is text wherever it is shown: this one must not become an element.
NAME = "<img src=x onerror=alert(1)> damage.png"


def test_a_customer_attaches_a_photo_in_the_widget_and_the_agent_sees_it_in_the_inbox(
        site_for_port, browser, alice, tmp_path):  # noqa: F811
    files = tmp_path / "files"
    process = start_daphne(site_for_port, tmp_path / "daphne.log",
                           ATTACHMENTS_STORAGE_OPTIONS=json.dumps({"location": str(files)}))
    base = f"http://127.0.0.1:{site_for_port}"
    photo = tmp_path / NAME.replace("/", "")
    Image.new("RGB", (900, 600), (30, 160, 90)).save(photo, format="PNG")
    agent_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    customer_page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    try:
        agent_logs_in(agent_page, base)
        customer_page.goto(f"{base}/")
        customer_page.locator("#supportbot-widget .launcher").click()
        expect(customer_page.locator("#supportbot-widget .status-line")).to_be_visible()
        customer_page.locator("#supportbot-widget .composer textarea").fill("The box arrived crushed")
        customer_page.locator("#supportbot-widget .attach-input").set_input_files(str(photo))

        sent = customer_page.locator("#supportbot-widget .row.role-customer:not(.pending)")
        expect(sent.locator(".bubble")).to_have_text("The box arrived crushed", timeout=15_000)
        thumbnail = sent.locator(".attachment-image img")
        expect(thumbnail).to_have_attribute("alt", NAME)
        customer_page.wait_for_function(
            "() => { const i = document.querySelector('#supportbot-widget').shadowRoot"
            ".querySelector('.attachment-image img'); return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)

        conversation = agent_page.locator("#conversation-list a.conv", has_text="arrived crushed")
        expect(conversation).to_be_visible(timeout=10_000)
        conversation.click()
        in_inbox = agent_page.locator("#transcript .attachment-image img")
        expect(in_inbox).to_have_attribute("alt", NAME, timeout=10_000)
        agent_page.wait_for_function(
            "() => { const i = document.querySelector('#transcript .attachment-image img');"
            " return i && i.complete && i.naturalWidth > 0; }", timeout=10_000)
        assert agent_page.locator("#transcript img[src='x']").count() == 0
        assert customer_page.locator("#supportbot-widget img[src='x']").count() == 0
        stored = Attachment.objects.get()
        assert (files / stored.storage_name).is_file() and NAME not in stored.storage_name
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in (("agent", agent_page), ("customer", customer_page)):
            page.screenshot(path=str(ARTIFACTS / f"e2e-attachments-{name}.png"), full_page=True)
        shutil.copy(tmp_path / "daphne.log", ARTIFACTS / "daphne-attachments.log")
        raise
    finally:
        stop(process)
