"""Resource limits on the widget socket and API: socket caps per conversation and per network,
IPv6 keyed on the /64, unknown client addresses refused, csat/transcript frames counted, and the
conversation state checked before anything reaches the vault."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations.chat.widget_sessions import widget_session_open
from conversations.core.protocol import CLOSE_TOO_MANY_CONNECTIONS
from guardrails import socket_leases
from guardrails.models import PiiVaultEntry
from guardrails.socket_leases import socket_lease_acquire
from tests.conftest import ORIGIN
from tests.socket_support import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


def url(session) -> str:
    return f"/ws/chat/{session.conversation.public_id}/?token={session.token}"


async def refused(comm) -> dict:
    await comm.connect(timeout=5)
    error = await comm.receive_json_from(timeout=5)
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": CLOSE_TOO_MANY_CONNECTIONS}
    return error


async def usable(comm) -> None:
    ok, _ = await comm.connect(timeout=5)
    assert ok
    await comm.send_json_to({"type": "resume", "after_seq": 0})
    assert (await comm.receive_json_from(timeout=5))["type"] == "resumed"


async def test_it_caps_open_sockets_per_conversation_and_frees_the_slot_on_close(widget_session, settings):
    settings.CHAT_MAX_SOCKETS_PER_CONVERSATION = 2
    tabs = [chat_communicator(url(widget_session), client_ip=f"192.0.2.{n}") for n in (1, 2)]
    for tab in tabs:
        await usable(tab)
    error = await refused(chat_communicator(url(widget_session), client_ip="192.0.2.3"))
    assert error["type"] == "error" and error["code"] == "too_many_connections"

    await tabs[0].disconnect()
    again = chat_communicator(url(widget_session), client_ip="192.0.2.3")
    await usable(again)
    await again.disconnect()
    await tabs[1].disconnect()


async def test_it_caps_sockets_per_ipv6_64_across_conversations(site, settings):
    settings.CHAT_MAX_SOCKETS_PER_IP = 2
    sessions = [await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN) for _ in range(4)]
    # Two addresses of one /64 share its budget...
    first = chat_communicator(url(sessions[0]), client_ip="2001:db8:1:2::1")
    second = chat_communicator(url(sessions[1]), client_ip="2001:db8:1:2:ffff::9")
    await usable(first)
    await usable(second)
    await refused(chat_communicator(url(sessions[2]), client_ip="2001:db8:1:2::abcd"))
    # ...another /64 has its own.
    elsewhere = chat_communicator(url(sessions[3]), client_ip="2001:db8:1:3::1")
    await usable(elsewhere)
    for comm in (first, second, elsewhere):
        await comm.disconnect()


async def test_a_socket_from_an_unknown_client_address_is_refused(widget_session):
    error = await refused(chat_communicator(url(widget_session), client_ip=None))
    assert "address" in error["message"]


async def test_the_leases_of_a_process_that_died_lapse(widget_session, settings, monkeypatch):
    """A process killed without closing its sockets frees their slots after the lease time."""
    settings.CHAT_MAX_SOCKETS_PER_CONVERSATION = 1
    conversation_id = widget_session.conversation.pk
    acquire = sync_to_async(socket_lease_acquire)
    assert await acquire(conversation_id=conversation_id, client_ip="192.0.2.1", channel_name="dead-process!1") is None
    assert await acquire(conversation_id=conversation_id, client_ip="192.0.2.1", channel_name="live!2") is not None
    later = socket_leases.time.time() + socket_leases.SOCKET_LEASE_SECONDS + 1
    monkeypatch.setattr(socket_leases.time, "time", lambda: later)
    assert await acquire(conversation_id=conversation_id, client_ip="192.0.2.1", channel_name="live!2") is None


def test_new_conversations_from_one_ipv6_64_share_the_hourly_limit(site, settings):
    settings.LIMIT_CONVERSATIONS_PER_IP_PER_HOUR = 2

    def open_from(address: str) -> int:
        return (
            Client(HTTP_ORIGIN=ORIGIN, REMOTE_ADDR=address)
            .post("/api/widget/conversations", {"site_key": site.key}, content_type="application/json")
            .status_code
        )

    assert [open_from(f"2001:db8:aa:bb::{n}") for n in (1, 2, 3)] == [201, 201, 429]
    assert open_from("2001:db8:aa:cc::1") == 201


@pytest.mark.parametrize("forwarded", [None, "not-an-address", ""])
def test_behind_a_proxy_an_unknown_client_address_fails_closed(site, settings, forwarded):
    settings.TRUSTED_PROXY_COUNT = 1
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    response = Client(HTTP_ORIGIN=ORIGIN, REMOTE_ADDR="10.0.0.2", **headers).post(
        "/api/widget/conversations", {"site_key": site.key}, content_type="application/json"
    )
    assert response.status_code == 429 and "address" in response.json()["error"]["message"]
    proxied = Client(HTTP_ORIGIN=ORIGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.4").post(
        "/api/widget/conversations", {"site_key": site.key}, content_type="application/json"
    )
    assert proxied.status_code == 201


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "csat", "score": 4},
        {"type": "transcript", "email": "jo@example.com"},
    ],
)
async def test_csat_and_transcript_frames_count_against_the_frame_limits(widget_session, settings, frame):
    settings.LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE = 2
    comm = chat_communicator(url(widget_session))
    await usable(comm)
    await comm.receive_json_from(timeout=5)  # the status after `resumed`
    codes = []
    for _ in range(3):
        await comm.send_json_to(frame)
        reply = await comm.receive_nothing(timeout=1) or await comm.receive_json_from(timeout=5)
        codes.append(reply if reply is True else reply.get("code"))
    assert codes[2] == "rate_limited" and "rate_limited" not in codes[:2]
    await comm.disconnect()


async def test_a_rating_on_an_open_conversation_is_refused_before_anything_reaches_the_vault(widget_session):
    comm = chat_communicator(url(widget_session))
    await usable(comm)
    await comm.receive_json_from(timeout=5)
    await comm.send_json_to({"type": "csat", "score": 1, "comment": "call me on +1 415 555 0199, jo@example.com"})
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "conversation_open"
    count = await sync_to_async(PiiVaultEntry.objects.filter(conversation=widget_session.conversation).count)()
    assert count == 0
    await comm.disconnect()
