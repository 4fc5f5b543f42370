"""The gateway's HTTP transport (the SDK's aiohttp client) against the fake model server: what
the bot's tests do not show, the session's lifetime and a refused connection."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time

import aiohttp
import pytest

from supportbot.llm.gateway import ModelUnavailable, get_gateway
from tests.fakes.model_server import Reply

pytestmark = pytest.mark.timeout(30)


async def _collect(pieces: list[str]) -> tuple[str, aiohttp.ClientSession]:
    async def on_text(piece: str) -> None:
        pieces.append(piece)

    gateway = get_gateway()
    result = await gateway.stream_chat(messages=[{"role": "user", "content": "Hi"}], tools=None, on_text=on_text)
    # The SDK's client wraps the transport, which holds the aiohttp session it opened.
    return result.text, gateway.client._client._transport.client


def test_it_streams_through_aiohttp_and_closes_the_session_when_asyncio_run_ends(model_server, caplog):
    """The Celery tasks run a turn or a summary with `asyncio.run`: the session opened in that loop
    is closed before the loop is, so aiohttp logs no "Unclosed client session" error."""
    model_server.script(Reply(text="Shipping is free over 50 euros."))
    pieces: list[str] = []
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        text, session = asyncio.run(_collect(pieces))
        gc.collect()
    assert isinstance(session, aiohttp.ClientSession)
    assert text == "Shipping is free over 50 euros." and "".join(pieces) == text and len(pieces) > 1
    assert session.closed
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]


def _down_model(settings, port: int) -> None:
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.LLM_MODEL, settings.LLM_FALLBACK_MODEL = "fake-model", ""
    settings.LLM_MAX_RETRIES, settings.LLM_TIMEOUT_SECONDS = 1, 2.0


def _call_model() -> None:
    async def ignore(_: str) -> None:
        return None

    async def call() -> None:
        await get_gateway().stream_chat(messages=[{"role": "user", "content": "Hi"}], tools=None, on_text=ignore)

    asyncio.run(call())


def test_a_model_endpoint_that_is_down_is_reported_as_unreachable_not_as_slow(settings):
    """A refused connection is a connection error (httpx-aiohttp alone reports it as a timeout),
    within the retry's back-off, not the timeout."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _down_model(settings, port)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"^fake-model: APIConnectionError$"):
        _call_model()
    assert time.monotonic() - started < 2


def test_a_dropped_connection_is_retried_once_then_reported_unavailable(settings):
    """The SDK's retries still run over aiohttp: LLM_MAX_RETRIES=1 means two attempts."""
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))

    def drop_every_connection() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            accepted.append(conn)
            conn.close()

    threading.Thread(target=drop_every_connection, daemon=True).start()
    _down_model(settings, listener.getsockname()[1])
    try:
        with pytest.raises(ModelUnavailable, match=r"^fake-model: APIConnectionError$"):
            _call_model()
    finally:
        listener.close()
    assert len(accepted) == 2
