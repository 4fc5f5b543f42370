"""Clients that talk to the topology only through the balancer, as browsers would.

`Customer` follows docs/protocol.md like the widget: it reconnects with backoff when its socket
drops, authenticates, resumes after the last seq it holds and resends every message not yet acked
under the same client_id. It records every delivery, so a test can prove nothing was lost (its
transcript equals the database's) and nothing duplicated (no seq delivered twice).
`Agent` is an inbox tab (session cookie) plus the reply form's HTTP POST.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import string
import uuid
from collections import Counter
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import ORIGIN


class Customer:
    def __init__(self, *, http: str, ws: str, site_key: str) -> None:
        self.http, self.ws_base, self.site_key = http, ws, site_key
        self.conversation_id = ""
        self.token = ""
        self.socket: ClientConnection | None = None
        self.served_by: list[str] = []  # balancer's server per connection, in order
        self.texts: dict[str, str] = {}  # client_id -> text
        self.pending: dict[str, str] = {}  # sent, not acked yet
        self.acked: dict[str, int] = {}  # client_id -> seq
        self.transcript: dict[int, str] = {}  # seq -> text, as this client knows it
        self.deliveries: Counter[int] = Counter()  # message frames per seq
        self.frames: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.connected = asyncio.Event()
        self._runner: asyncio.Task | None = None
        self._stopping = False

    async def open(self) -> None:
        response = await asyncio.to_thread(
            requests.post,
            f"{self.http}/api/widget/conversations",
            json={"site_key": self.site_key},
            headers={"Origin": ORIGIN},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        self.conversation_id, self.token = body["conversation_id"], body["token"]

    async def start(self) -> None:
        self._runner = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), timeout=60)

    @property
    def last_seq(self) -> int:
        return max(self.transcript, default=0)

    async def _run(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                await self._session()
                delay = 0.1
            except (OSError, ConnectionClosed, InvalidStatus, asyncio.TimeoutError):
                pass
            self.connected.clear()
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def _session(self) -> None:
        async with connect(
            f"{self.ws_base}/ws/chat/{self.conversation_id}/", origin=ORIGIN, open_timeout=20, close_timeout=2
        ) as socket:
            self.socket = socket
            self.served_by.append(socket.response.headers.get("X-Served-By", "?"))
            await socket.send(json.dumps({"type": "auth", "token": self.token}))
            await socket.send(json.dumps({"type": "resume", "after_seq": self.last_seq}))
            for client_id in list(self.pending):  # the resend: same client_id, stored at most once
                await socket.send(
                    json.dumps({"type": "message", "client_id": client_id, "text": self.pending[client_id]})
                )
            self.connected.set()
            async for raw in socket:
                self._handle(json.loads(raw))

    def _handle(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)
        kind = frame.get("type")
        if kind == "ack":
            client_id = frame["client_id"]
            self.acked[client_id] = frame["seq"]
            self.transcript[frame["seq"]] = self.texts[client_id]
            self.pending.pop(client_id, None)
        elif kind == "message":
            self.deliveries[frame["seq"]] += 1
            self.transcript[frame["seq"]] = frame["text"]
            if frame.get("client_id") in self.pending:  # stored before the socket died, ack lost with it
                self.acked[frame["client_id"]] = frame["seq"]
                self.pending.pop(frame["client_id"])
        elif kind == "resumed" and frame.get("token"):
            self.token = frame["token"]
        self.changed.set()

    async def say(self, text: str) -> str:
        client_id = str(uuid.uuid4())
        self.texts[client_id] = self.pending[client_id] = text
        if self.socket is not None and self.connected.is_set():
            with contextlib.suppress(ConnectionClosed):  # resent on reconnect
                await self.socket.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        return client_id

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.socket is not None
        await self.socket.send(json.dumps(frame))

    async def until(self, predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout=timeout)

    async def close(self) -> None:
        self._stopping = True
        if self.socket is not None:
            await self.socket.close()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._runner, timeout=5)


class Agent:
    """An agent's inbox tab on one conversation, and their replies."""

    def __init__(self, *, http: str, ws: str, session_key: str) -> None:
        self.http, self.ws_base = http, ws
        self.csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.cookies = {"sessionid": session_key, "csrftoken": self.csrf}
        self.socket: ClientConnection | None = None
        self.served_by = ""
        self.html = ""
        self.changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def watch(self, conversation_id: str) -> None:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.socket = await connect(
            f"{self.ws_base}/ws/inbox/?conversation={conversation_id}",
            origin=self.http,
            additional_headers={"Cookie": cookie},
            open_timeout=20,
        )
        self.served_by = self.socket.response.headers.get("X-Served-By", "?")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.socket:
                self.html += raw
                self.changed.set()

    async def sees(self, text: str, timeout: float = 30.0) -> None:
        async def wait() -> None:
            while text not in self.html:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout=timeout)

    async def reply(self, conversation_id: str, text: str) -> str:
        """Post a reply as the inbox's form does; returns the host that served it."""
        response = await asyncio.to_thread(
            requests.post,
            f"{self.http}/inbox/c/{conversation_id}/reply",
            data={"text": text},
            cookies=self.cookies,
            timeout=30,
            headers={"X-CSRFToken": self.csrf, "Origin": self.http, "HX-Request": "true"},
        )
        assert response.status_code == 204, (response.status_code, response.text[:500])
        return response.headers.get("X-Served-By", "?")

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, timeout=5)
