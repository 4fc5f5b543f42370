"""A fake OpenAI-compatible model endpoint: a real HTTP server speaking the chat-completions API
(plain and SSE streaming, tool calls) and the embeddings API, with scripted replies and a record
of every request. The app reaches it through the real openai SDK, exactly like a real endpoint.

Scripting: `server.script(Reply(...), ...)` queues replies for the next chat calls, in order; with
an empty queue, `default_reply(request_body)` answers. A Reply may be an HTTP error (status=429),
a delay before the first byte, or tool calls (arguments as raw strings, so they can be malformed).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ToolCall:
    name: str
    arguments: str  # raw JSON text, deliberately not validated


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    delay_seconds: float = 0.0  # before the response starts (time to first token)
    seconds_per_token: float = 0.0  # between streamed pieces
    prompt_tokens: int = 100
    completion_tokens: int | None = None


def hashed_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words get close vectors."""
    vector = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest[:4], "little") % dimensions] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FakeModelServer:
    def __init__(self, *, embedding_dimensions: int = 384) -> None:
        self.embedding_dimensions = embedding_dimensions
        self.requests: list[dict] = []  # every JSON body received, in order
        self.paths: list[str] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.default_reply: Callable[[dict], Reply] = lambda body: Reply(text="I can help with that.")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def chat_requests(self) -> list[dict]:
        return [body for path, body in zip(self.paths, self.requests) if path.endswith("/chat/completions")]

    def _next_reply(self, body: dict) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.default_reply(body)

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    return self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                with server._lock:
                    server.requests.append(body)
                    server.paths.append(self.path)
                if self.path.endswith("/embeddings"):
                    return self._embeddings(body)
                if self.path.endswith("/chat/completions"):
                    return self._chat(body)
                return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _embeddings(self, body: dict) -> None:
                inputs = body.get("input")
                texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
                dimensions = body.get("dimensions") or server.embedding_dimensions
                self._json(
                    200,
                    {
                        "object": "list",
                        "model": body.get("model"),
                        "data": [
                            {"object": "embedding", "index": i, "embedding": hashed_embedding(t, dimensions)}
                            for i, t in enumerate(texts)
                        ],
                        "usage": {"prompt_tokens": sum(len(t.split()) for t in texts), "total_tokens": 0},
                    },
                )

            def _chat(self, body: dict) -> None:
                reply = server._next_reply(body)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                if reply.status != 200:
                    return self._json(
                        reply.status, {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
                    )
                pieces = re.findall(r"\S+\s*|\s+", reply.text) if reply.text else []
                completion_tokens = (
                    reply.completion_tokens
                    if reply.completion_tokens is not None
                    else len(pieces) + len(reply.tool_calls) * 10
                )
                usage = {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": reply.prompt_tokens + completion_tokens,
                }
                model = body.get("model", "fake")
                finish = "tool_calls" if reply.tool_calls else "stop"
                tool_calls = [
                    {
                        "index": i,
                        "id": f"call_{i}_{int(time.time() * 1e6)}",
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for i, call in enumerate(reply.tool_calls)
                ]
                if not body.get("stream"):
                    message = {"role": "assistant", "content": reply.text or None}
                    if tool_calls:
                        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in tool_calls]
                    return self._json(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": model,
                            "usage": usage,
                            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        },
                    )
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()

                def event(delta: dict, finish_reason: str | None = None, with_usage: bool = False) -> None:
                    chunk = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                    }
                    if with_usage:
                        chunk["choices"] = []
                        chunk["usage"] = usage
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                try:
                    event({"role": "assistant", "content": ""})
                    for n, piece in enumerate(pieces):
                        if n and reply.seconds_per_token:
                            time.sleep(reply.seconds_per_token)
                        event({"content": piece})
                    for call in tool_calls:
                        event({"tool_calls": [call]})
                    event({}, finish_reason=finish)
                    if (body.get("stream_options") or {}).get("include_usage"):
                        event({}, with_usage=True)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        return Handler
