"""Chat protocol v1 through the real ASGI application, channel layer on real Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import signing

from conversations.chat.widget_sessions import widget_session_open
from conversations.core.protocol import CLOSE_FORBIDDEN_ORIGIN, CLOSE_TOO_LARGE, CLOSE_UNAUTHORIZED
from conversations.flows.messages import agent_message_post
from conversations.handoff.resolution import conversation_resolve
from conversations.lib.tokens import conversation_token_issue
from conversations.models import Conversation, Message
from tests.conftest import ORIGIN
from tests.socket_support import chat_communicator

pytestmark = [pytest.mark.django_db(transaction=True)]


def communicator(
    session, *, origin: str | None = ORIGIN, token: str | None = None, public_id=None
) -> WebsocketCommunicator:
    token = session.token if token is None else token
    public_id = session.conversation.public_id if public_id is None else public_id
    return chat_communicator(f"/ws/chat/{public_id}/?token={token}", origin=origin)


async def connected(session, **kwargs) -> WebsocketCommunicator:
    comm = communicator(session, **kwargs)
    ok, _ = await comm.connect(timeout=5)
    assert ok
    return comm


async def frames_until(comm: WebsocketCommunicator, predicate, timeout: float = 5.0) -> list[dict]:
    """Collect frames until one satisfies predicate (inclusive)."""
    collected = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await comm.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        collected.append(frame)
        if predicate(frame):
            return collected


async def send_message(comm, text: str, client_id: str | None = None) -> str:
    client_id = client_id or str(uuid.uuid4())
    await comm.send_json_to({"type": "message", "client_id": client_id, "text": text})
    return client_id


async def expect_close(comm: WebsocketCommunicator, code: int) -> None:
    output = await comm.receive_output(timeout=5)
    while output["type"] == "websocket.send":
        output = await comm.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": code}


async def test_it_acks_with_a_database_seq_and_broadcasts_the_stored_message_to_other_sockets(widget_session):
    sender = await connected(widget_session)
    other_tab = await connected(widget_session)
    client_id = await send_message(sender, "Where is my order A1234?")

    ack = await sender.receive_json_from(timeout=5)
    assert ack == {"type": "ack", "client_id": client_id, "seq": 1}
    message = await other_tab.receive_json_from(timeout=5)
    assert message["type"] == "message" and message["seq"] == 1 and message["role"] == "customer"
    assert message["client_id"] == client_id and message["text"] == "Where is my order A1234?"
    stored = await sync_to_async(Message.objects.get)(conversation=widget_session.conversation, seq=1)
    assert stored.text == "Where is my order A1234?" and str(stored.client_id) == client_id
    # The sender has the message already (its text, and the seq from the ack): no echo.
    assert await sender.receive_nothing(timeout=0.5)
    await sender.disconnect()
    await other_tab.disconnect()


async def test_it_returns_the_same_seq_for_a_retried_client_id_and_stores_nothing_new(widget_session):
    comm = await connected(widget_session)
    client_id = await send_message(comm, "hello")
    first = (await frames_until(comm, lambda f: f["type"] == "ack"))[-1]
    await send_message(comm, "hello", client_id=client_id)
    second = (await frames_until(comm, lambda f: f["type"] == "ack"))[-1]

    assert first["seq"] == second["seq"] == 1
    count = await sync_to_async(Message.objects.filter(conversation=widget_session.conversation).count)()
    assert count == 1
    await comm.disconnect()


async def test_it_replays_every_message_after_the_given_seq_in_order_then_resumed(widget_session, alice):
    conversation_id = widget_session.conversation.pk
    for n in range(1, 6):
        await sync_to_async(agent_message_post)(conversation_id=conversation_id, agent=alice, text=f"reply {n}")

    comm = await connected(widget_session)
    await comm.send_json_to({"type": "resume", "after_seq": 2})
    frames = await frames_until(comm, lambda f: f["type"] == "resumed")

    replayed = [f for f in frames if f["type"] == "message"]
    # seq 1 is "Alice joined the conversation.", then the five replies
    assert [f["seq"] for f in replayed] == [3, 4, 5, 6]
    assert [f["text"] for f in replayed] == ["reply 2", "reply 3", "reply 4", "reply 5"]
    assert all(f["author"] == "Alice" and f["role"] == "agent" for f in replayed)
    assert frames[-1]["type"] == "resumed" and frames[-1]["last_seq"] == 6
    status = await comm.receive_json_from(timeout=5)
    assert status == {"type": "status", "conversation_status": "human", "agent": "Alice"}
    await comm.disconnect()


async def test_a_socket_sends_each_seq_once_even_when_two_replays_overlap(widget_session, alice):
    """A client that resumes again (to fill a gap it thought it saw) gets only what this socket
    has not sent yet: the same path that keeps a message committed during a replay from going
    out both by replay and by broadcast."""
    conversation_id = widget_session.conversation.pk
    for n in range(1, 4):
        await sync_to_async(agent_message_post)(conversation_id=conversation_id, agent=alice, text=f"reply {n}")
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "resume", "after_seq": 0})
    first = await frames_until(comm, lambda f: f["type"] == "resumed")
    await comm.receive_json_from(timeout=5)  # status
    await sync_to_async(agent_message_post)(conversation_id=conversation_id, agent=alice, text="reply 4")
    live = await frames_until(comm, lambda f: f["type"] == "message")
    await comm.send_json_to({"type": "resume", "after_seq": 1})
    second = await frames_until(comm, lambda f: f["type"] == "resumed")

    assert [f["seq"] for f in first if f["type"] == "message"] == [1, 2, 3, 4]
    assert [f["seq"] for f in live if f["type"] == "message"] == [5]
    assert [f for f in second if f["type"] == "message"] == []
    assert second[-1]["last_seq"] == 5
    await comm.disconnect()


async def test_it_replays_across_batches(widget_session, alice, settings):
    settings.CHAT_REPLAY_BATCH = 3
    for n in range(7):
        await sync_to_async(agent_message_post)(
            conversation_id=widget_session.conversation.pk, agent=alice, text=f"m{n}"
        )
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "resume", "after_seq": 0})
    frames = await frames_until(comm, lambda f: f["type"] == "resumed")
    assert [f["seq"] for f in frames if f["type"] == "message"] == list(range(1, 9))  # "joined" + 7
    assert frames[-1]["last_seq"] == 8
    await comm.disconnect()


async def test_it_gives_concurrent_senders_unique_increasing_seqs(widget_session, settings):
    settings.CHAT_RATE_BURST = 100
    settings.LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE = 100
    tab_one = await connected(widget_session)
    tab_two = await connected(widget_session)
    per_tab = 15

    async def send_all(comm, label):
        acks = []
        for n in range(per_tab):
            client_id = await send_message(comm, f"{label}-{n}")
            frames = await frames_until(
                comm, lambda f, c=client_id: f["type"] == "ack" and f["client_id"] == c, timeout=10
            )
            acks.append(frames[-1]["seq"])
        return acks

    acks_one, acks_two = await asyncio.gather(send_all(tab_one, "one"), send_all(tab_two, "two"))

    assert acks_one == sorted(acks_one) and acks_two == sorted(acks_two)
    assert sorted(acks_one + acks_two) == list(range(1, 2 * per_tab + 1))
    stored = await sync_to_async(list)(
        Message.objects.filter(conversation=widget_session.conversation).order_by("seq").values_list("seq", "text")
    )
    assert [seq for seq, _ in stored] == list(range(1, 2 * per_tab + 1))
    # Each tab's own messages are stored in the order that tab sent them.
    assert [t for _, t in stored if t.startswith("one-")] == [f"one-{n}" for n in range(per_tab)]
    last_seq = await sync_to_async(lambda: Conversation.objects.get(pk=widget_session.conversation.pk).last_seq)()
    assert last_seq == 2 * per_tab
    await tab_one.disconnect()
    await tab_two.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"text": "no type"}', "bad_frame"),
        ('{"type": "shout"}', "bad_frame"),
        ('{"type": "message", "client_id": "6f1c1f9e-8c0e-4d84-9d7b-0d4b5d3b0a11"}', "bad_frame"),
        ('{"type": "message", "text": "hi"}', "bad_frame"),
        ('{"type": "message", "client_id": "not-a-uuid", "text": "hi"}', "bad_frame"),
        ('{"type": "message", "client_id": "6f1c1f9e-8c0e-4d84-9d7b-0d4b5d3b0a11", "text": "   "}', "bad_frame"),
        ('{"type": "message", "client_id": "6f1c1f9e-8c0e-4d84-9d7b-0d4b5d3b0a11", "text": 5}', "bad_frame"),
        ('{"type": "resume", "after_seq": "3"}', "bad_frame"),
        ('{"type": "resume", "after_seq": true}', "bad_frame"),
        ('{"type": "resume", "after_seq": -1}', "bad_frame"),
        ('{"type": "typing"}', "bad_frame"),
        ('{"type": "csat", "score": 9}', "bad_frame"),
        ('{"type": "action", "action_id": "x", "decision": "maybe"}', "bad_frame"),
    ],
)
async def test_it_answers_a_bad_frame_with_an_error_and_keeps_the_socket_open(widget_session, raw, code):
    comm = await connected(widget_session)
    await comm.send_to(text_data=raw)
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == code and error["message"]

    client_id = await send_message(comm, "still here")
    frames = await frames_until(comm, lambda f: f["type"] == "ack")
    assert frames[-1]["client_id"] == client_id
    assert await sync_to_async(Message.objects.filter(conversation=widget_session.conversation).count)() == 1
    await comm.disconnect()


async def test_it_refuses_text_over_the_limit_but_keeps_the_socket_open(widget_session, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    comm = await connected(widget_session)
    await send_message(comm, "x" * 51)
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "too_large"
    await send_message(comm, "x" * 50)
    assert (await frames_until(comm, lambda f: f["type"] == "ack"))[-1]["seq"] == 1
    await comm.disconnect()


async def test_it_refuses_binary_frames(widget_session):
    comm = await connected(widget_session)
    await comm.send_to(bytes_data=b"\x00\x01")
    error = await comm.receive_json_from(timeout=5)
    assert error["code"] == "bad_frame"
    await comm.disconnect()


async def test_it_closes_on_an_oversize_frame_with_1009(widget_session, settings):
    settings.CHAT_MAX_FRAME_BYTES = 2048
    comm = await connected(widget_session)
    await comm.send_to(text_data=json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "é" * 1500}))
    error = await comm.receive_json_from(timeout=5)
    assert error["code"] == "too_large"
    await expect_close(comm, CLOSE_TOO_LARGE)
    assert await sync_to_async(Message.objects.count)() == 0


async def test_it_rate_limits_a_connection_and_keeps_it_open(widget_session, settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.5
    comm = await connected(widget_session)
    for _ in range(4):
        await comm.send_json_to({"type": "resume", "after_seq": 0})
    error = (await frames_until(comm, lambda f: f["type"] == "error"))[-1]
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    await asyncio.sleep(2.1)  # one token refills at 0.5/s
    await send_message(comm, "after the pause")
    assert (await frames_until(comm, lambda f: f["type"] == "ack"))[-1]["seq"] == 1
    await comm.disconnect()


async def test_typing_has_its_own_budget_and_never_uses_up_a_message(widget_session, settings):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.01
    settings.CHAT_TYPING_BURST = 2
    settings.CHAT_TYPING_PER_SECOND = 0.01
    comm = await connected(widget_session)
    for state in (True, False) * 10:  # a fast typist: over the typing budget, dropped silently
        await comm.send_json_to({"type": "typing", "state": state})
    for text in ("one", "two", "three"):
        await send_message(comm, text)
        assert (await frames_until(comm, lambda f: f["type"] in ("ack", "error")))[-1]["type"] == "ack"
    await send_message(comm, "four")
    assert (await frames_until(comm, lambda f: f["type"] in ("ack", "error")))[-1]["code"] == "rate_limited"
    await comm.disconnect()


async def test_it_closes_with_4401_for_a_bad_token(widget_session):
    comm = communicator(widget_session, token="forged")
    ok, _ = await comm.connect(timeout=5)
    assert ok
    await expect_close(comm, CLOSE_UNAUTHORIZED)


async def test_it_closes_with_4401_for_an_expired_token(widget_session, monkeypatch):
    class LongAgo:
        @staticmethod
        def time():
            return time.time() - 25 * 3600

    monkeypatch.setattr(signing, "time", LongAgo)
    old_token = conversation_token_issue(
        conversation_id=widget_session.conversation.public_id,
        site_key="test-site",
        customer_key=widget_session.conversation.customer.anonymous_id,
    )
    monkeypatch.undo()
    comm = communicator(widget_session, token=old_token)
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


async def test_it_refuses_a_token_for_another_conversation(widget_session, site):
    other = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    comm = communicator(widget_session, token=other.token)
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


async def test_it_does_not_reveal_whether_a_conversation_exists(widget_session):
    """A validly signed token for a conversation that does not exist gets the same close as a
    forged token for one that does."""
    ghost = uuid.uuid4()
    ghost_token = conversation_token_issue(
        conversation_id=ghost, site_key="test-site", customer_key=widget_session.conversation.customer.anonymous_id
    )
    comm = communicator(widget_session, token=ghost_token, public_id=ghost)
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_UNAUTHORIZED)


@pytest.mark.parametrize("origin", ["http://evil.test", None])
async def test_it_closes_with_4403_for_an_origin_the_site_does_not_allow(widget_session, origin):
    comm = communicator(widget_session, origin=origin)
    await comm.connect(timeout=5)
    await expect_close(comm, CLOSE_FORBIDDEN_ORIGIN)


async def test_it_relays_agent_typing_to_the_customer_but_not_customer_typing_to_other_tabs(widget_session):
    from conversations.core.events import publish_typing

    tab_one = await connected(widget_session)
    tab_two = await connected(widget_session)
    await tab_one.send_json_to({"type": "typing", "state": True})
    await publish_typing(
        public_id=widget_session.conversation.public_id, role="agent", state=True, author="Alice", sender_channel="x"
    )
    frame = await tab_two.receive_json_from(timeout=5)
    assert frame == {"type": "typing", "role": "agent", "state": True, "author": "Alice"}
    await tab_one.disconnect()
    await tab_two.disconnect()


async def test_it_queues_for_a_human_on_request_human(widget_session):
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "request_human"})
    frames = await frames_until(comm, lambda f: f["type"] == "status")
    assert frames[-1]["conversation_status"] == "queued"
    assert any(f["type"] == "message" and f["role"] == "system" for f in frames)
    conversation = await sync_to_async(Conversation.objects.get)(pk=widget_session.conversation.pk)
    assert conversation.status == "queued" and conversation.handoff_reason == "customer_request"
    await comm.disconnect()


async def test_it_records_csat_only_after_resolution(widget_session, alice):
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "csat", "score": 5})
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "conversation_open"

    await sync_to_async(conversation_resolve)(conversation_id=widget_session.conversation.pk, agent=alice)
    await frames_until(comm, lambda f: f["type"] == "status" and f["conversation_status"] == "resolved")
    await comm.send_json_to({"type": "csat", "score": 4, "comment": "quick and kind"})
    await asyncio.sleep(0.3)
    conversation = await sync_to_async(Conversation.objects.get)(pk=widget_session.conversation.pk)
    assert (conversation.csat_score, conversation.csat_comment) == (4, "quick and kind")
    await comm.disconnect()


async def test_it_delivers_an_agent_reply_to_every_open_tab(widget_session, alice):
    tab_one = await connected(widget_session)
    tab_two = await connected(widget_session)
    await sync_to_async(agent_message_post)(
        conversation_id=widget_session.conversation.pk, agent=alice, text="Hi, Alice here"
    )
    for tab in (tab_one, tab_two):
        frames = await frames_until(tab, lambda f: f["type"] == "message" and f["role"] == "agent")
        assert frames[-1]["text"] == "Hi, Alice here" and frames[-1]["author"] == "Alice"
        assert [f["text"] for f in frames if f["type"] == "message"][0] == "Alice joined the conversation."
        await tab.disconnect()


async def test_a_retried_client_id_leaves_no_gap_in_seqs(widget_session):
    comm = await connected(widget_session)
    first = await send_message(comm, "one")
    await frames_until(comm, lambda f: f["type"] == "ack")
    await send_message(comm, "one", client_id=first)
    await frames_until(comm, lambda f: f["type"] == "ack")
    await send_message(comm, "two")
    ack = (await frames_until(comm, lambda f: f["type"] == "ack"))[-1]
    assert ack["seq"] == 2
    await comm.disconnect()


async def test_a_customer_message_reopens_a_resolved_conversation(widget_session, alice):
    await sync_to_async(agent_message_post)(conversation_id=widget_session.conversation.pk, agent=alice, text="Done!")
    await sync_to_async(conversation_resolve)(conversation_id=widget_session.conversation.pk, agent=alice)
    comm = await connected(widget_session)
    await send_message(comm, "Actually, one more thing")
    frames = await frames_until(comm, lambda f: f["type"] == "status")
    assert frames[-1] == {"type": "status", "conversation_status": "bot"}
    conversation = await sync_to_async(Conversation.objects.get)(pk=widget_session.conversation.pk)
    assert (conversation.status, conversation.assignee_id, conversation.resolved_at) == ("bot", None, None)
    assert conversation.last_seq == 4  # joined, "Done!", resolved, the new message
    await comm.disconnect()
