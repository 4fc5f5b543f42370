"""Conversation tokens: bound to the customer they were issued for (re-checked on connect), short
lived and rotated with every `resumed`, and accepted in an `auth` first frame instead of the URL."""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.core import signing

from conversations.chat.widget_sessions import widget_session_open
from conversations.core.protocol import CLOSE_UNAUTHORIZED
from conversations.lib.tokens import conversation_token_issue, conversation_token_verify
from conversations.models import Customer
from tests.conftest import ORIGIN
from tests.socket_support import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


async def expect_close(comm, code: int) -> list[dict]:
    """The frames sent before the close, then assert the close code."""
    frames = []
    output = await comm.receive_output(timeout=5)
    while output["type"] == "websocket.send":
        frames.append(json.loads(output["text"]))
        output = await comm.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": code}
    return frames


async def resumed(comm, after_seq: int = 0) -> dict:
    await comm.send_json_to({"type": "resume", "after_seq": after_seq})
    while True:
        frame = await comm.receive_json_from(timeout=5)
        if frame["type"] == "resumed":
            return frame


async def test_a_token_issued_for_another_customer_is_refused_on_connect(widget_session, site):
    stranger = await sync_to_async(Customer.objects.create)(site=site)
    token = conversation_token_issue(
        conversation_id=widget_session.conversation.public_id, site_key=site.key, customer_key=stranger.anonymous_id
    )
    comm = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/?token={token}")
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


async def test_a_token_stops_working_once_the_conversation_belongs_to_someone_else(widget_session, site):
    """Re-checked on every connect, not only when the token was issued."""
    stranger = await sync_to_async(Customer.objects.create)(site=site)
    conversation = widget_session.conversation
    await sync_to_async(type(conversation).objects.filter(pk=conversation.pk).update)(customer=stranger)
    comm = chat_communicator(f"/ws/chat/{conversation.public_id}/?token={widget_session.token}")
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


def test_a_token_for_another_customer_does_not_resume_over_http(client, site):
    mine = widget_session_open(site_key=site.key, origin=ORIGIN)
    stranger = Customer.objects.create(site=site)
    token = conversation_token_issue(
        conversation_id=mine.conversation.public_id, site_key=site.key, customer_key=stranger.anonymous_id
    )
    response = client.post(
        "/api/widget/conversations",
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        data=json.dumps({"site_key": site.key, "conversation_id": str(mine.conversation.public_id), "token": token}),
    )
    assert response.status_code == 201 and response.json()["conversation_id"] != str(mine.conversation.public_id)


def test_tokens_live_hours_not_days(widget_session, settings, monkeypatch):
    settings.CONVERSATION_TOKEN_MAX_AGE_HOURS = 24

    class TwoDaysAgo:
        @staticmethod
        def time():
            return time.time() - 48 * 3600

    monkeypatch.setattr(signing, "time", TwoDaysAgo)
    old = conversation_token_issue(
        conversation_id=widget_session.conversation.public_id,
        site_key="test-site",
        customer_key=widget_session.conversation.customer.anonymous_id,
    )
    monkeypatch.undo()
    assert conversation_token_verify(old) is None
    assert conversation_token_verify(widget_session.token) is not None


async def test_every_resumed_frame_carries_a_fresh_token_and_the_old_one_keeps_working(widget_session, monkeypatch):
    first = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/?token={widget_session.token}")
    await first.connect(timeout=5)
    # Django's signing timestamps have one-second resolution: a second later the token differs.
    monkeypatch.setattr(signing.time, "time", lambda: time.time_ns() / 1e9 + 2)
    frame = await resumed(first)
    monkeypatch.undo()
    fresh = frame["token"]
    assert fresh != widget_session.token
    claims = conversation_token_verify(fresh, conversation_id=widget_session.conversation.public_id)
    assert claims is not None and claims.customer_key == widget_session.conversation.customer.anonymous_id

    for token in (fresh, widget_session.token):
        comm = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/?token={token}")
        ok, _ = await comm.connect(timeout=5)
        assert ok and (await resumed(comm))["last_seq"] == 0
        await comm.disconnect()
    await first.disconnect()


async def test_the_token_can_travel_in_an_auth_first_frame_instead_of_the_url(widget_session):
    comm = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/")
    ok, _ = await comm.connect(timeout=5)
    assert ok
    await comm.send_json_to({"type": "auth", "token": widget_session.token})
    assert (await resumed(comm))["type"] == "resumed"
    await comm.send_json_to({"type": "message", "client_id": "6f1c1f9e-8c0e-4d84-9d7b-0d4b5d3b0a11", "text": "hi"})
    frames = [await comm.receive_json_from(timeout=5) for _ in range(2)]
    assert [f["type"] for f in frames] == ["status", "ack"]  # the status that follows every `resumed`
    await comm.disconnect()


@pytest.mark.parametrize(
    "first_frame",
    [
        {"type": "auth", "token": "forged"},
        {"type": "auth"},
        {"type": "resume", "after_seq": 0},
        "not json",
    ],
)
async def test_anything_but_a_valid_auth_first_frame_closes_4401(widget_session, first_frame):
    comm = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/")
    await comm.connect(timeout=5)
    if isinstance(first_frame, str):
        await comm.send_to(text_data=first_frame)
    else:
        await comm.send_json_to(first_frame)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


async def test_a_socket_that_never_authenticates_is_closed(widget_session, settings):
    settings.CHAT_AUTH_TIMEOUT_SECONDS = 0.5
    comm = chat_communicator(f"/ws/chat/{widget_session.conversation.public_id}/")
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


def test_the_session_answer_offers_a_socket_url_without_the_token(client, site):
    body = client.post(
        "/api/widget/conversations",
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        data=json.dumps({"site_key": site.key}),
    ).json()
    assert body["token"] not in body["socket_url"] and "token" not in body["socket_url"]
    assert body["ws_url"].startswith(body["socket_url"] + "?token=")  # v1 clients keep working
