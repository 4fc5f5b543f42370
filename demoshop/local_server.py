"""The demo shop's API served from a thread of the current process, for commands that need the
commerce API without `make run` (bot_eval). The bot still reaches it over real HTTP."""

from __future__ import annotations

import threading

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the stdlib's name)
        return None


def demoshop_serve_in_thread() -> str:
    """Start serving this project's WSGI app on a free loopback port; return the API's base URL.
    The thread is a daemon: it ends with the process."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demoshop-api", daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/demoshop/api"
