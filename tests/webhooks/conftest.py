"""Webhook fixtures: a real HTTP receiver on loopback that checks every request with the
verification snippet published in docs/webhooks.md (executed from the file, so the documentation
is what is tested), and helpers to wait for what it saw."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import PROJECT_ROOT


def documented_verify() -> Callable[..., None]:
    """`webhook_verify` exactly as docs/webhooks.md prints it between its snippet markers."""
    text = (PROJECT_ROOT / "docs" / "webhooks.md").read_text()
    block = text.split("<!-- verify-snippet:start -->", 1)[1].split("<!-- verify-snippet:end -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["webhook_verify"]


@dataclass
class Received:
    path: str
    webhook_id: str
    body: dict
    verified: bool
    verify_error: str
    at: float


@dataclass
class Receiver:
    """Answers each path with `status[path]` (200 by default); `on_request` runs before answering."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    on_request: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(r.path, r.body.get("type"), r.webhook_id[:12]) for r in self.received]
                raise AssertionError(f"timed out waiting for {what}; the receiver saw {seen}")
            time.sleep(0.05)


@pytest.fixture
def receiver():
    verify = documented_verify()
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            error = ""
            try:
                verify(
                    secret=state.secrets.get(self.path, ""),
                    body=body,
                    timestamp=self.headers.get("Webhook-Timestamp", ""),
                    signatures=self.headers.get("Webhook-Signature", ""),
                )
            except ValueError as problem:
                error = str(problem)
            entry = Received(
                path=self.path,
                webhook_id=self.headers.get("Webhook-Id", ""),
                body=json.loads(body),
                verified=not error,
                verify_error=error,
                at=time.monotonic(),
            )
            with state.lock:
                state.received.append(entry)
            if state.on_request is not None:
                state.on_request(entry)
            try:
                self.send_response(state.status.get(self.path, 200) if not error else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender is gone (the test killed it)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
