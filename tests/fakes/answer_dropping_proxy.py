"""A TCP proxy in front of the company's API that loses answers: the network fault a write must
survive. It forwards each request to the real server (the change is applied there) and, for the
first `drop_posts` POSTs, closes the client's connection instead of passing the answer back.

A protocol-level double: the API behind it is the real demoshop over real HTTP."""

from __future__ import annotations

import socket
import socketserver
import threading
from urllib.parse import urlsplit


def _read_http_message(sock: socket.socket, *, is_response: bool) -> bytes:
    """One HTTP/1.1 request or response: headers, then Content-Length bytes of body. Without that
    header a request has no body and a response runs until the server closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None and not is_response:
        length = 0
    while length is None or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class _Handler(socketserver.BaseRequestHandler):
    server: AnswerDroppingProxy

    def handle(self) -> None:
        request = _read_http_message(self.request, is_response=False)
        if not request:
            return
        with socket.create_connection(self.server.upstream, timeout=30) as upstream:
            upstream.sendall(request)
            response = _read_http_message(upstream, is_response=True)
        if request.startswith(b"POST ") and self.server.take_drop():
            return  # the server applied it; the client never hears back
        self.request.sendall(response)


class AnswerDroppingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_url: str, *, drop_posts: int) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.upstream_path = parts.path
        self.drop_posts = drop_posts
        self.dropped = 0
        self.posts = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def take_drop(self) -> bool:
        with self._lock:
            self.posts += 1
            if self.dropped < self.drop_posts:
                self.dropped += 1
                return True
            return False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.upstream_path}"

    def __enter__(self) -> AnswerDroppingProxy:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
