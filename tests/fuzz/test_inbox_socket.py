"""Fuzzing the agent inbox's socket (/ws/inbox/) with generated query strings and frames: the
socket never crashes, and an agent's typing after the bad frames still reaches the customer."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import given
from hypothesis import strategies as st

from conversations.chat.widget_sessions import widget_session_open
from supportbot.asgi import application
from tests.conftest import ORIGIN
from tests.conversations.test_chat_protocol import connected, frames_until
from tests.conversations.test_inbox import _session_cookie
from tests.fuzz.strategies import fuzz_settings, json_values, nasty_text, no_surrogates

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

inbox_frames = st.one_of(
    nasty_text.filter(no_surrogates),  # a text frame is UTF-8 on the wire; JSON may escape one
    json_values.map(json.dumps),
    st.fixed_dictionaries({}, optional={"text": json_values, "mode": json_values}).map(json.dumps),
)
# A URL carries UTF-8 bytes, so no unpaired surrogate can reach a query string (NUL can: %00).
query_values = st.one_of(nasty_text.filter(no_surrogates), st.integers().map(str), st.just("99999999999999999999999"))


@fuzz_settings(max_examples=12)
@given(
    frames=st.lists(inbox_frames, max_size=5),
    query=st.dictionaries(st.sampled_from(["view", "queue", "q"]), query_values, max_size=3),
)
async def test_any_inbox_frames_leave_the_socket_relaying_the_agents_typing(site, alice, caplog, frames, query):
    caplog.clear()
    session = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    cookie = await sync_to_async(_session_cookie)(alice)
    path = "/ws/inbox/?" + urlencode({**query, "conversation": str(session.conversation.public_id)})
    inbox = WebsocketCommunicator(
        application, path, headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    )
    accepted, _ = await inbox.connect(timeout=10)
    assert accepted
    await inbox.receive_from(timeout=10)  # the snapshot
    widget = await connected(session)
    for frame in frames:
        await inbox.send_input({"type": "websocket.receive", "text": frame})
    await inbox.send_json_to({"text": "Let me check", "mode": "reply"})

    typing = await frames_until(widget, lambda f: f["type"] == "typing" and f["state"] is True, timeout=10)
    assert typing[-1]["role"] == "agent"
    await widget.disconnect()
    await inbox.disconnect()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, (frames, query, [r.getMessage() for r in errors])
