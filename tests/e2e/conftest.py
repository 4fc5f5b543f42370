"""Headless Chromium for the end-to-end tests (Debian's chromium driven by Playwright), and the
live server they share (tests/e2e/servers.py)."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import LiveServer

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


@pytest.fixture(scope="package")
def _chromium():
    """One Chromium for the package (a launch took 3-5 s per test under load); each test gets
    its own contexts from it, which share no cookies or storage, and they are closed after it."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required: `make test` installs it"
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an event loop running on this thread; the ORM calls the
        # tests make between browser steps (and the flush after each) are still plain synchronous calls.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            yield browser
            browser.close()


@pytest.fixture
def browser(_chromium):
    yield _chromium
    for context in _chromium.contexts:
        context.close()


# One frame per four seconds after the first: a confirm right after a message is refused.
STRICT_RATE_LIMITS = {"CHAT_RATE_BURST": "1", "CHAT_RATE_PER_SECOND": "0.25"}


@pytest.fixture(scope="package")
def _servers(request, django_db_setup, tmp_path_factory):
    """Started by the first e2e test that asks for one, killed after the package's last test. The
    rate-limited server is launched only when a collected test asks for it (strict_bot_server)."""
    servers = {"shared": LiveServer(tmp_path_factory.mktemp("e2e-server"))}
    if any("strict_bot_server" in getattr(item, "fixturenames", ()) for item in request.session.items):
        servers["strict"] = LiveServer(tmp_path_factory.mktemp("strict-server"), **STRICT_RATE_LIMITS)
    try:
        for server in servers.values():
            server.launch()
        servers["shared"].wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.kill()


@pytest.fixture
def e2e_server(_servers, transactional_db) -> LiveServer:
    """The shared live server, running when the test begins; the test creates its own site and
    data (tests/e2e/servers.py says why nothing leaks from one test to the next)."""
    _servers["shared"].test_begins()
    return _servers["shared"]
