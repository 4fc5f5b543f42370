"""Chat protocol v1 (conversations/core/protocol.py): client frames parsed into typed values or a
ProtocolError with the code the socket sends back, and server frames built from unsaved rows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from conversations.core.protocol import (
    ActionDecision,
    Csat,
    Feedback,
    ProtocolError,
    RequestHuman,
    Resume,
    SendMessage,
    TranscriptRequest,
    Typing,
    error_frame,
    message_frame,
    parse_client_frame,
    status_frame,
)
from conversations.models import Conversation, Message

MAX = 50
CLIENT_ID = "4b4b1c3e-6a39-4a39-9b8f-3f4c2d1e0a77"


def parse(frame: object, *, max_text_chars: int = MAX):
    return parse_client_frame(frame if isinstance(frame, str) else json.dumps(frame), max_text_chars=max_text_chars)


def refused(frame: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        parse(frame)
    return raised.value


def test_it_parses_every_client_frame_type_into_its_value():
    attachment = str(uuid.uuid4())
    assert parse({"type": "message", "client_id": CLIENT_ID, "text": "hi"}) == SendMessage(
        client_id=uuid.UUID(CLIENT_ID), text="hi"
    )
    assert parse({"type": "message", "client_id": CLIENT_ID, "attachment": attachment}) == SendMessage(
        client_id=uuid.UUID(CLIENT_ID), text="", attachment=uuid.UUID(attachment)
    )
    assert parse({"type": "resume", "after_seq": 0}) == Resume(after_seq=0)
    assert parse({"type": "typing", "state": False}) == Typing(state=False)
    assert parse({"type": "action", "action_id": "a1", "decision": "cancel"}) == ActionDecision("a1", "cancel")
    assert parse({"type": "request_human"}) == RequestHuman()
    assert parse({"type": "csat", "score": 5}) == Csat(score=5, comment="")
    assert parse({"type": "transcript", "email": "  alice@example.com "}) == TranscriptRequest("alice@example.com")
    assert parse({"type": "feedback", "seq": 3, "rating": "down", "comment": "wrong"}) == Feedback(3, "down", "wrong")


@pytest.mark.parametrize("raw", ["", "{", "not json", "[1, 2]", "42", '"message"', "null", "[" * 100_000])
def test_what_is_not_a_json_object_is_a_bad_frame(raw):
    assert refused(raw).code == "bad_frame"


@pytest.mark.parametrize(
    "frame, words",
    [
        ({"text": "hi"}, "missing field 'type'"),
        ({"type": "shout"}, "unknown frame type 'shout'"),
        ({"type": "message", "text": "hi"}, "missing field 'client_id'"),
        ({"type": "message", "client_id": "not-a-uuid", "text": "hi"}, "client_id must be a UUID"),
        ({"type": "message", "client_id": CLIENT_ID, "text": "   "}, "text must not be empty"),
        ({"type": "message", "client_id": CLIENT_ID}, "missing field 'text'"),
        ({"type": "message", "client_id": CLIENT_ID, "text": 7}, "field 'text' must be of type str"),
        ({"type": "message", "client_id": CLIENT_ID, "text": ["hi"]}, "field 'text' must be of type str"),
        ({"type": "message", "client_id": CLIENT_ID, "text": "hi", "attachment": "../etc/passwd"}, "upload id"),
        ({"type": "resume", "after_seq": -1}, "after_seq must be >= 0"),
        ({"type": "resume", "after_seq": "3"}, "must be of type int"),
        ({"type": "resume", "after_seq": 2.5}, "must be of type int"),
        ({"type": "resume", "after_seq": True}, "must be of type int"),  # a JSON true is not a number
        ({"type": "typing", "state": 1}, "must be of type bool"),
        ({"type": "action", "action_id": "a1", "decision": "maybe"}, "'confirm' or 'cancel'"),
        ({"type": "csat", "score": 0}, "between 1 and 5"),
        ({"type": "csat", "score": 6}, "between 1 and 5"),
        ({"type": "csat", "score": 4, "comment": None}, "comment must be a string"),
        ({"type": "transcript", "email": "   "}, "email must be an email address"),
        ({"type": "transcript", "email": "a" * 250 + "@x.io"}, "email must be an email address"),
        ({"type": "feedback", "seq": 0, "rating": "up"}, "seq must be >= 1"),
        ({"type": "feedback", "seq": 1, "rating": "meh"}, "'up' or 'down'"),
        ({"type": "message", "client_id": CLIENT_ID, "text": "a\x00b"}, "NUL"),
        ({"type": "typing", "state": True, "note": "\ud800"}, "unpaired surrogates"),  # any top-level string
    ],
)
def test_a_malformed_frame_is_a_bad_frame_that_says_what_is_wrong(frame, words):
    error = refused(frame)
    assert error.code == "bad_frame"
    assert words in str(error)


def test_an_unknown_type_is_quoted_back_cut_short():
    error = refused({"type": "x" * 500})
    assert len(str(error)) < 100


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "client_id": CLIENT_ID, "text": "x" * (MAX + 1)},
        {"type": "csat", "score": 3, "comment": "x" * (MAX + 1)},
        {"type": "feedback", "seq": 1, "rating": "up", "comment": "x" * (MAX + 1)},
    ],
)
def test_text_over_the_limit_is_too_large(frame):
    assert refused(frame).code == "too_large"


def test_text_at_the_limit_is_accepted_and_kept_whole():
    text = "é" * MAX  # characters, not bytes
    assert parse({"type": "message", "client_id": CLIENT_ID, "text": text}).text == text


def test_a_message_with_an_attachment_may_carry_text_too():
    attachment = str(uuid.uuid4())
    frame = parse({"type": "message", "client_id": CLIENT_ID, "text": "see photo", "attachment": attachment})
    assert (frame.text, frame.attachment) == ("see photo", uuid.UUID(attachment))


def test_unknown_extra_fields_are_ignored():
    assert parse({"type": "request_human", "please": "now", "n": {"deep": [1]}}) == RequestHuman()


def test_a_message_frame_carries_only_the_fields_that_are_set():
    message = Message(
        seq=4,
        role="bot",
        text="Here you go",
        created_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        extras={"citations": [{"title": "Returns", "url": "/kb/returns"}], "turn_id": "t-1"},
    )
    assert message_frame(message) == {
        "type": "message",
        "seq": 4,
        "role": "bot",
        "text": "Here you go",
        "created_at": "2026-03-02T09:30:00+00:00",
        "citations": [{"title": "Returns", "url": "/kb/returns"}],
        "turn_id": "t-1",
    }


def test_a_customer_message_frame_echoes_its_client_id_and_an_agents_carries_the_first_name():
    client_id = uuid.UUID(CLIENT_ID)
    customer = Message(seq=1, role="customer", text="hi", client_id=client_id, created_at=datetime.now(UTC), extras={})
    assert message_frame(customer)["client_id"] == CLIENT_ID and "author" not in message_frame(customer)
    agent = Message(
        seq=2,
        role="agent",
        text="Hello",
        created_at=datetime.now(UTC),
        extras={},
        author=get_user_model()(pk=7, username="alice", first_name="Alice"),
    )
    assert message_frame(agent)["author"] == "Alice"


def test_a_status_frame_names_the_agent_only_while_a_human_has_the_conversation():
    alice = get_user_model()(pk=7, username="alice", first_name="")
    human = Conversation(status=Conversation.Status.HUMAN, assignee=alice)
    assert status_frame(human) == {"type": "status", "conversation_status": "human", "agent": "alice"}
    resolved = Conversation(status=Conversation.Status.RESOLVED, assignee=alice)
    assert status_frame(resolved) == {"type": "status", "conversation_status": "resolved"}


def test_a_queued_status_frame_carries_the_wait_it_is_given():
    queued = Conversation(status=Conversation.Status.QUEUED)
    frame = status_frame(queued, wait=SimpleNamespace(position=2, minutes=6))
    assert frame == {"type": "status", "conversation_status": "queued", "queue_position": 2, "expected_wait_minutes": 6}


def test_an_error_frame_rounds_retry_after_and_leaves_it_out_when_unknown():
    assert error_frame("rate_limited", "slow down", retry_after=1.23456) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "retry_after": 1.23,
    }
    assert "retry_after" not in error_frame("bad_frame", "nope")
