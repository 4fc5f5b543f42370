"""Headless Chromium for the end-to-end tests: Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import PROJECT_ROOT

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required: `make test` installs it"
    # Playwright's sync API keeps an event loop running on this thread; the ORM calls this test
    # makes between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
