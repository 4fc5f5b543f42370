"""Fuzzing /ws/chat/ through the real ASGI application (channel layer on real Redis, real
Postgres): whatever text frames a client sends, each gets nothing or a documented error, the
server logs no error, and a valid message afterwards still gets its ack."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from asgiref.sync import sync_to_async
from hypothesis import given
from hypothesis import strategies as st

from conversations.chat.widget_sessions import widget_session_open
from conversations.core.protocol import CLOSE_TOO_LARGE, CLOSE_UNAUTHORIZED
from tests.conftest import ORIGIN
from tests.conversations.test_chat_protocol import connected
from tests.fuzz.strategies import chat_frames, fuzz_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# docs/protocol.md, section 4. `unavailable` is left out: it means the database failed, and a
# client resends after it, so bad input answered with it would be resent for ever.
DOCUMENTED_ERRORS = {"bad_frame", "too_large", "rate_limited", "conversation_open", "not_found", "not_verified"}
DOCUMENTED_CLOSE_CODES = {CLOSE_TOO_LARGE, CLOSE_UNAUTHORIZED}


@pytest.fixture
def roomy_limits(settings):
    """Per-IP and per-conversation limits would otherwise refuse the closing valid message once
    enough examples ran; the fuzz is about input, not about rate."""
    settings.CHAT_RATE_BURST = 1000
    settings.LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE = 10_000
    settings.LIMIT_MESSAGES_PER_IP_PER_MINUTE = 10_000


@fuzz_settings(max_examples=20)
@given(frames=st.lists(chat_frames(), min_size=1, max_size=6))
async def test_any_text_frames_get_documented_answers_and_the_socket_still_acks_a_valid_message(
    site, roomy_limits, caplog, frames
):
    caplog.clear()
    session = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    comm = await connected(session)
    for frame in frames:
        # send_input, not send_to: the communicator refuses an empty text frame, a client can send one.
        await comm.send_input({"type": "websocket.receive", "text": frame})
    client_id = str(uuid.uuid4())
    await comm.send_json_to({"type": "message", "client_id": client_id, "text": "still there?"})

    closed_with = None
    while True:
        output = await comm.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            closed_with = output.get("code")
            break
        answer = json.loads(output["text"])
        if answer["type"] == "error":
            assert answer["code"] in DOCUMENTED_ERRORS, (frames, answer)
        if answer["type"] == "ack" and answer["client_id"] == client_id:
            break
    if closed_with is not None:
        assert closed_with in DOCUMENTED_CLOSE_CODES, (frames, closed_with)
    else:
        await comm.disconnect()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, (frames, [r.getMessage() for r in errors])


@fuzz_settings(max_examples=5)
@given(payload=st.binary(min_size=1, max_size=64))
async def test_binary_frames_get_bad_frame_and_the_socket_still_acks_a_valid_message(site, roomy_limits, payload):
    session = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    comm = await connected(session)
    await comm.send_to(bytes_data=payload)
    assert (await comm.receive_json_from(timeout=10))["code"] == "bad_frame"
    client_id = str(uuid.uuid4())
    await comm.send_json_to({"type": "message", "client_id": client_id, "text": "hello"})
    assert await comm.receive_json_from(timeout=10) == {"type": "ack", "client_id": client_id, "seq": 1}
    await comm.disconnect()
