"""Chat protocol v1: the frames on the widget's socket (docs/protocol.md is the reference).

Client frames are parsed here into typed values or a ProtocolError; server frames are built here
and nowhere else, so the wire format has one definition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict
from uuid import UUID

from conversations.models import Conversation, Message
from supportbot.errors import CodedError

# Close codes (docs/protocol.md). 1009 is the standard "message too big".
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_LARGE = 1009
CLOSE_TOO_MANY_CONNECTIONS = 4429  # socket cap per conversation or network reached, or unknown client address


class ProtocolError(CodedError):
    """A client frame that is malformed, too large or otherwise refused before any service runs."""


# --- client frames -------------------------------------------------------------------------


@dataclass(frozen=True)
class SendMessage:
    client_id: UUID
    text: str
    attachment: UUID | None = None  # an upload's id (POST /api/widget/attachments)


@dataclass(frozen=True)
class Resume:
    after_seq: int


@dataclass(frozen=True)
class Typing:
    state: bool


@dataclass(frozen=True)
class ActionDecision:
    action_id: str
    decision: Literal["confirm", "cancel"]


@dataclass(frozen=True)
class RequestHuman:
    pass


@dataclass(frozen=True)
class Csat:
    score: int
    comment: str


@dataclass(frozen=True)
class TranscriptRequest:
    email: str


@dataclass(frozen=True)
class Feedback:
    """Thumbs up or down on one bot answer, by its seq."""

    seq: int
    rating: Literal["up", "down"]
    comment: str


ClientFrame = SendMessage | Resume | Typing | ActionDecision | RequestHuman | Csat | TranscriptRequest | Feedback
EMAIL_MAX_CHARS = 254
# Postgres text cannot hold NUL, and an unpaired surrogate (valid as a JSON escape, "\ud800")
# cannot be encoded as UTF-8: both would fail deep inside a service instead of as a bad frame.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse_client_frame(raw: str, *, max_text_chars: int) -> ClientFrame:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("bad_frame", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "frame must be a JSON object")
    # Only top-level fields are ever read; nested values fail their type check anyway.
    if any(isinstance(value, str) and UNSTORABLE.search(value) for value in data.values()):
        raise ProtocolError("bad_frame", "strings must not contain NUL characters or unpaired surrogates")
    frame_type = data.get("type")
    if frame_type == "message":
        attachment = _attachment_id(data)
        # With an attachment the text may be left out or empty; without one it is the message.
        text = _required(data, "text", str) if attachment is None or "text" in data else ""
        if not text.strip() and attachment is None:
            raise ProtocolError("bad_frame", "text must not be empty")
        if len(text) > max_text_chars:
            raise ProtocolError("too_large", f"text is longer than {max_text_chars} characters")
        try:
            client_id = UUID(_required(data, "client_id", str))
        except ValueError:
            raise ProtocolError("bad_frame", "client_id must be a UUID") from None
        return SendMessage(client_id=client_id, text=text, attachment=attachment)
    if frame_type == "resume":
        after_seq = _required(data, "after_seq", int)
        if after_seq < 0:
            raise ProtocolError("bad_frame", "after_seq must be >= 0")
        return Resume(after_seq=after_seq)
    if frame_type == "typing":
        return Typing(state=_required(data, "state", bool))
    if frame_type == "action":
        decision = _required(data, "decision", str)
        if decision not in ("confirm", "cancel"):
            raise ProtocolError("bad_frame", "decision must be 'confirm' or 'cancel'")
        return ActionDecision(action_id=_required(data, "action_id", str), decision=decision)
    if frame_type == "request_human":
        return RequestHuman()
    if frame_type == "csat":
        score = _required(data, "score", int)
        if not 1 <= score <= 5:
            raise ProtocolError("bad_frame", "score must be between 1 and 5")
        comment = data.get("comment", "")
        if not isinstance(comment, str):
            raise ProtocolError("bad_frame", "comment must be a string")
        if len(comment) > max_text_chars:
            raise ProtocolError("too_large", f"comment is longer than {max_text_chars} characters")
        return Csat(score=score, comment=comment)
    if frame_type == "transcript":
        email = _required(data, "email", str).strip()
        if not email or len(email) > EMAIL_MAX_CHARS:
            raise ProtocolError("bad_frame", "email must be an email address")
        return TranscriptRequest(email=email)
    if frame_type == "feedback":
        return _feedback(data, max_text_chars=max_text_chars)
    if frame_type is None:
        raise ProtocolError("bad_frame", "missing field 'type'")
    raise ProtocolError("bad_frame", f"unknown frame type {str(frame_type)[:40]!r}")


def _attachment_id(data: dict[str, Any]) -> UUID | None:
    if data.get("attachment") is None:
        return None
    try:
        return UUID(_required(data, "attachment", str))
    except ValueError:
        raise ProtocolError("bad_frame", "attachment must be an upload id") from None


def _feedback(data: dict[str, Any], *, max_text_chars: int) -> Feedback:
    seq = _required(data, "seq", int)
    if seq < 1:
        raise ProtocolError("bad_frame", "seq must be >= 1")
    rating = _required(data, "rating", str)
    if rating not in ("up", "down"):
        raise ProtocolError("bad_frame", "rating must be 'up' or 'down'")
    comment = data.get("comment", "")
    if not isinstance(comment, str):
        raise ProtocolError("bad_frame", "comment must be a string")
    if len(comment) > max_text_chars:
        raise ProtocolError("too_large", f"comment is longer than {max_text_chars} characters")
    return Feedback(seq=seq, rating=rating, comment=comment)


def _required(data: dict[str, Any], field: str, kind: type) -> Any:
    if field not in data:
        raise ProtocolError("bad_frame", f"missing field '{field}'")
    value = data[field]
    # bool is a subclass of int: a JSON true is not a sequence number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError("bad_frame", f"field '{field}' must be of type {kind.__name__}")
    return value


# --- server frames -------------------------------------------------------------------------


class Citation(TypedDict):
    title: str
    url: str


class AttachmentInfo(TypedDict):
    id: str
    name: str
    content_type: str
    size: int
    url: str
    thumbnail_url: NotRequired[str]  # images only


class MessageFrame(TypedDict):
    type: Literal["message"]
    seq: int
    role: str
    text: str
    created_at: str
    client_id: NotRequired[str]
    author: NotRequired[str]
    citations: NotRequired[list[Citation]]
    related: NotRequired[list[Citation]]  # closest articles offered when the bot has no answer
    action: NotRequired[dict[str, Any]]
    turn_id: NotRequired[str]
    attachments: NotRequired[list[AttachmentInfo]]


class AckFrame(TypedDict):
    type: Literal["ack"]
    client_id: str
    seq: int


class ResumedFrame(TypedDict):
    type: Literal["resumed"]
    last_seq: int


class TypingFrame(TypedDict):
    type: Literal["typing"]
    role: str
    state: bool
    author: NotRequired[str]
    activity: NotRequired[str]  # bot only: "thinking", or "working" while a tool runs


class StatusFrame(TypedDict):
    type: Literal["status"]
    conversation_status: str
    agent: NotRequired[str]
    queue_position: NotRequired[int]  # while queued: 1 = next in line
    expected_wait_minutes: NotRequired[int]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    retry_after: NotRequired[float]


class FeedbackSavedFrame(TypedDict):
    type: Literal["feedback_saved"]
    seq: int
    rating: str


def author_name(user: Any) -> str:
    return (user.first_name or user.get_username()) if user is not None else ""


def message_frame(message: Message) -> MessageFrame:
    frame: MessageFrame = {
        "type": "message",
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
    if message.client_id:
        frame["client_id"] = str(message.client_id)
    if message.author_id:
        frame["author"] = author_name(message.author)
    if message.extras.get("citations"):
        frame["citations"] = message.extras["citations"]
    if message.extras.get("related"):
        frame["related"] = message.extras["related"]
    if message.extras.get("action"):
        frame["action"] = message.extras["action"]
    if message.extras.get("turn_id"):
        frame["turn_id"] = message.extras["turn_id"]  # supersedes the `delta` frames of that turn
    if message.extras.get("attachments"):
        frame["attachments"] = [_attachment_info(item) for item in message.extras["attachments"]]
    return frame


def _attachment_info(item: dict[str, Any]) -> AttachmentInfo:
    from conversations.lib.attachment_links import attachment_urls

    info: AttachmentInfo = {
        "id": item["id"],
        "name": item["name"],
        "content_type": item["content_type"],
        "size": item["size"],
        "url": "",
    }
    info.update(attachment_urls(attachment_id=item["id"], thumbnail=item.get("thumbnail", False)))  # type: ignore[typeddict-item]
    return info


def ack_frame(message: Message) -> AckFrame:
    return {"type": "ack", "client_id": str(message.client_id), "seq": message.seq}


@dataclass(frozen=True)
class WaitEstimate:
    """A queued customer's place in line and expected wait, as the status frame shows them."""

    position: int
    minutes: int


def status_frame(conversation: Conversation, *, wait: WaitEstimate | None = None) -> StatusFrame:
    """Pure: the queue position comes in as `wait` (conversations.handoff.selectors computes it)."""
    frame: StatusFrame = {"type": "status", "conversation_status": conversation.status}
    if conversation.assignee_id and conversation.status == Conversation.Status.HUMAN:
        frame["agent"] = author_name(conversation.assignee)
    if conversation.status == Conversation.Status.QUEUED:
        if wait is not None:
            frame["queue_position"] = wait.position
            frame["expected_wait_minutes"] = wait.minutes
    return frame


def feedback_saved_frame(*, seq: int, rating: str) -> FeedbackSavedFrame:
    return {"type": "feedback_saved", "seq": seq, "rating": rating}


def error_frame(code: str, message: str, *, retry_after: float | None = None) -> ErrorFrame:
    frame: ErrorFrame = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        frame["retry_after"] = round(retry_after, 2)
    return frame
