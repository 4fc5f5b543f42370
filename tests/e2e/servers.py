"""One live Daphne for the browser tests, started once for the whole e2e package.

A start loads spaCy and MiniLM (in the web process and its model worker): 30-50 s on this
machine under load, and the e2e modules used to pay it eleven times. What a test needs from the
server lives in the database and in Redis, which every test starts empty (transaction=True
flushes the database after each test, `_fresh_limits` flushes Redis before it), so each test
creates its own demo site and data and no state passes from one test to the next. The test
that needs other server settings (rate limits) gets a second server, launched alongside the
first so that its start overlaps the tests before it instead of adding a wait of its own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from django.conf import settings

from conversations.models import WidgetSite
from tests.conftest import free_port, launch_daphne, stop, wait_for_http


class LiveServer:
    """A Daphne on a fixed port; it can be stopped and started again on that port (the restart
    test does), and `log_since_test` shows only what the current test made it write."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        # The bot's tools reach the demo shop over HTTP, on this same server.
        self.env = {"COMMERCE_API_URL": f"{self.url}/demoshop/api", **env}
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._log_mark = (self.log, 0)

    @property
    def log(self) -> Path:
        return self.log_dir / f"daphne-{self.starts}.log"

    def launch(self) -> None:
        """Start the process without waiting: another server's start can overlap it."""
        self.starts += 1
        self.process = launch_daphne(self.port, self.log, **self.env)

    def wait_ready(self) -> None:
        # A start loads the models before it listens: over a minute on a busy CI machine, 208 s
        # for two at once at load 19. The e2e tests' timeout (420 s) leaves room for that in the
        # first test, which waits for the shared server's start.
        assert self.process is not None, "launch() first"
        wait_for_http(f"{self.url}/healthz", self.process, timeout=300)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def kill(self) -> None:
        """The end of the package: nothing is left to flush, and killing spares the ~10 s a
        graceful Daphne shutdown takes (its model worker exits with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def test_begins(self) -> None:
        """Called before each test: a test that stopped the server (or crashed it) leaves the next
        one a running server all the same."""
        if self.running():
            self.wait_ready()  # launched alongside another server, perhaps not listening yet
        else:
            self.start()
        self._log_mark = (self.log, self.log.stat().st_size if self.log.exists() else 0)

    def log_since_test(self) -> str:
        """The server's output since the current test began (across a restart within it)."""
        path, offset = self._log_mark
        text = path.read_bytes()[offset:].decode(errors="replace") if path.exists() else ""
        if path != self.log and self.log.exists():
            text += self.log.read_text(errors="replace")
        return text


def demo_site_create(server: LiveServer, **options) -> WidgetSite:
    """The site the demo host page embeds (DEMO_SITE_KEY), allowed on the server's origin. Each
    test creates its own: the flush after the previous test deleted that one."""
    return WidgetSite.objects.create(
        key=settings.DEMO_SITE_KEY,
        name="Acme Outfitters",
        allowed_origins=[server.url],
        **options,
    )
