"""Socket clients that follow the rules a real client follows (docs/protocol.md section 5; the
inbox's htmx socket reconnects and takes the fresh snapshot), written against the protocol and
not the server's internals, so the fault tests see what a widget and an agent's tab would see."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

RECONNECT_DELAY_SECONDS = 0.3


@dataclass
class ChatClient:
    """The widget's side: holds every message by seq (dropping duplicates), keeps unacknowledged
    messages and resends them (same client_id) after `resumed` or an `unavailable` error's
    retry_after; on a close it reconnects, re-authenticates and resumes from its last seq."""

    url: str
    token: str
    origin: str
    held: dict[int, str] = field(default_factory=dict)  # seq -> text
    duplicates: list[int] = field(default_factory=list)  # seqs received again (the server may; the client drops them)
    pending: dict[str, str] = field(default_factory=dict)  # client_id -> text, until acked
    errors: list[dict] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)  # close codes seen
    resumes: int = 0
    live_messages: list[dict] = field(default_factory=list)  # `message` frames outside a replay
    socket: ClientConnection | None = None
    _resend_at: float | None = None
    _replaying: bool = False

    @property
    def last_contiguous_seq(self) -> int:
        seq = 0
        while seq + 1 in self.held:
            seq += 1
        return seq

    async def connect(self) -> None:
        self.socket = await connect(self.url, additional_headers={"Origin": self.origin}, open_timeout=5)
        await self._send({"type": "auth", "token": self.token})
        await self._send({"type": "resume", "after_seq": self.last_contiguous_seq})
        self._replaying = True

    async def send_message(self, text: str) -> str:
        client_id = str(uuid.uuid4())
        self.pending[client_id] = text
        if self.socket is not None and not self._replaying:
            await self._send({"type": "message", "client_id": client_id, "text": text})
        return client_id

    async def run_until(self, done, *, timeout: float) -> None:
        """Handle frames, reconnects and resends until `done(self)` holds."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"chat client: condition not met within {timeout}s; state: {self.summary()}")
            if self.socket is None:
                try:
                    await self.connect()
                except (OSError, InvalidHandshake, InvalidStatus, ConnectionClosed, asyncio.TimeoutError):
                    self.socket = None
                    await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                continue
            if self._resend_at is not None and time.monotonic() >= self._resend_at:
                self._resend_at = None
                await self._resend_pending()
            try:
                raw = await asyncio.wait_for(self.socket.recv(), timeout=0.1)
            except asyncio.TimeoutError:
                continue
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
                self.socket = None
                continue
            await self._handle(json.loads(raw))

    async def _handle(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "ack":
            text = self.pending.pop(frame["client_id"], None)
            if text is not None:
                self._hold(frame["seq"], text)
        elif kind == "message":
            if not self._replaying:
                self.live_messages.append(frame)
            self._hold(frame["seq"], frame["text"])
            if not self._replaying and frame["seq"] > self.last_contiguous_seq + 1:
                await self._send({"type": "resume", "after_seq": self.last_contiguous_seq})  # fill the gap
        elif kind == "resumed":
            self._replaying = False
            self.resumes += 1
            self.token = frame["token"]
            await self._resend_pending()
        elif kind == "error":
            self.errors.append(frame)
            if frame.get("code") in ("unavailable", "rate_limited"):
                self._resend_at = time.monotonic() + float(frame.get("retry_after") or 1.0)

    def _hold(self, seq: int, text: str) -> None:
        if seq in self.held:
            self.duplicates.append(seq)
            return
        self.held[seq] = text

    async def _resend_pending(self) -> None:
        for client_id, text in list(self.pending.items()):
            await self._send({"type": "message", "client_id": client_id, "text": text})

    async def _send(self, frame: dict) -> None:
        assert self.socket is not None
        try:
            await self.socket.send(json.dumps(frame))
        except ConnectionClosed:
            pass  # seen by the next recv, which reconnects

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None

    def summary(self) -> str:
        return (
            f"held={self.held} pending={list(self.pending.values())} errors={self.errors} closes={self.closes} "
            f"resumes={self.resumes} connected={self.socket is not None}"
        )


@dataclass
class InboxClient:
    """An agent's inbox tab: records every HTML frame; on a close it reconnects like htmx's ws
    extension, and the server's snapshot on connect brings it up to date."""

    url: str
    origin: str
    sessionid: str
    frames: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, html)
    closes: list[int | None] = field(default_factory=list)
    socket: ClientConnection | None = None
    _reader: asyncio.Task | None = None

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever())

    async def _read_forever(self) -> None:
        while True:
            try:
                self.socket = await connect(
                    self.url,
                    open_timeout=5,
                    additional_headers={"Origin": self.origin, "Cookie": f"sessionid={self.sessionid}"},
                )
            except (OSError, InvalidHandshake, InvalidStatus, ConnectionClosed, asyncio.TimeoutError):
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                continue
            try:
                async for raw in self.socket:
                    self.frames.append((time.monotonic(), raw if isinstance(raw, str) else raw.decode()))
            except ConnectionClosed:
                pass
            self.closes.append(self.socket.close_code)
            self.socket = None
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    def seen_since(self, since: float, text: str) -> bool:
        return any(text in html for at, html in self.frames if at >= since)

    async def wait_for_message(self, text: str, *, since: float, timeout: float) -> float:
        """Seconds until a frame received after `since` shows the message `text` in the
        transcript (the conversation list's preview does not count)."""
        return await self.wait_for(f'<div class="msg-text">{text}</div>', since=since, timeout=timeout)

    async def wait_for(self, text: str, *, since: float, timeout: float) -> float:
        """Seconds until a frame received after `since` contains `text`."""
        deadline = time.monotonic() + timeout
        while not self.seen_since(since, text):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"inbox: {text!r} not received within {timeout}s; closes={self.closes}, {len(self.frames)} frames"
                )
            await asyncio.sleep(0.05)
        return time.monotonic() - since

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.socket is not None:
            await self.socket.close()
