"""The widget's socket: /ws/chat/<conversation_id>/ with the token in an `auth` first frame, or
/ws/chat/<conversation_id>/?token=... (protocol v1).

Authenticates (signed token bound to its customer + the site's allowed origins), holds a socket
slot for its conversation and network, validates each frame's shape, size and rate, calls one
service per frame and forwards group events. No business logic lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from django.conf import settings

from conversations.bot.actions import action_decide, action_execution_schedule
from conversations.bot.runner import turn_schedule
from conversations.chat.conversations import conversation_rate
from conversations.chat.feedback import message_feedback_record
from conversations.chat.selectors import (
    ChatAccess,
    ChatDenied,
    chat_access_resolve,
    conversation_with_assignee,
    messages_after,
)
from conversations.chat.transcripts import transcript_email_request
from conversations.core import events, protocol
from conversations.core.async_db import call_service, db
from conversations.core.realtime_recovery import CLOSE_CATCH_UP, INFRASTRUCTURE_ERRORS, OUTAGE_ERRORS
from conversations.core.sockets import LoopOnlyConsumer
from conversations.flows.messages import customer_message_post
from conversations.handoff.selectors import conversation_status_wait
from conversations.handoff.services import conversation_request_human
from conversations.lib.attachment_links import attachments_for_customer
from conversations.lib.rate_limit import TokenBucket
from conversations.lib.tokens import conversation_token_issue
from conversations.models import Conversation
from guardrails.limits import message_limits_check
from guardrails.pii.vault import frame_placeholders, frame_rehydrate, vault_values
from guardrails.redaction import text_detect_async
from guardrails.socket_leases import (
    SOCKET_LEASE_RENEW_SECONDS,
    socket_lease_acquire,
    socket_lease_release,
    socket_lease_renew,
)
from guardrails.verification_limits import CLIENT_IP_SECONDS, conversation_client_ip_remember
from supportbot.client_ip import scope_client_ip
from supportbot.errors import CodedError
from supportbot.runtime.trace import trace_mark, trace_message_begin, trace_message_end

logger = logging.getLogger(__name__)

# How many of its own recent client_ids a socket remembers, to skip echoing them back.
ACKED_MEMORY = 1000
# How many recent seqs a socket remembers having sent, so a message that arrives both by replay
# and by broadcast (or by a second replay) goes out once.
DELIVERED_MEMORY = 1000
# A socket re-notes its client address this often while it sends, well within the note's lifetime.
CLIENT_IP_REFRESH_SECONDS = CLIENT_IP_SECONDS / 6


def _replay_frames(*, conversation_id: int, after_seq: int, limit: int) -> list[protocol.MessageFrame]:
    return [
        protocol.message_frame(m)
        for m in messages_after(conversation_id=conversation_id, after_seq=after_seq, limit=limit)
    ]


def _status(*, conversation_id: int) -> protocol.StatusFrame:
    conversation = conversation_with_assignee(conversation_id=conversation_id)
    return protocol.status_frame(conversation, wait=conversation_status_wait(conversation))


# A socket's setup is two trips to the thread pool, not four: the access check with the socket
# lease, and the replay's (usually only) batch with the status. While 300 sockets opened at once
# each trip queued behind ~70 others (docs/performance.md, "the connection burst").


def _access_and_lease(
    *, public_id: UUID, token: str, origin: str | None, client_ip: str | None, channel_name: str
) -> ChatAccess | ChatDenied | str:
    """The socket's access, or why it is denied, or (a str) why no socket slot was granted."""
    access = chat_access_resolve(public_id=public_id, token=token, origin=origin)
    if isinstance(access, ChatDenied):
        return access
    refused = socket_lease_acquire(
        conversation_id=access.conversation_id, client_ip=client_ip, channel_name=channel_name
    )
    return refused if refused is not None else access


def _replay_batch(
    *, conversation_id: int, after_seq: int, limit: int
) -> tuple[list[protocol.MessageFrame], protocol.StatusFrame | None]:
    """A batch of the replay and, when it is the last one, the status (read after it)."""
    frames = _replay_frames(conversation_id=conversation_id, after_seq=after_seq, limit=limit)
    return frames, (_status(conversation_id=conversation_id) if len(frames) < limit else None)


class ChatConsumer(LoopOnlyConsumer):
    access: ChatAccess | None = None
    closed: bool = False
    auth_deadline: asyncio.Task | None = None
    lease_renewal: asyncio.Task | None = None
    client_ip_remembered_at: float = float("-inf")

    async def connect(self) -> None:
        # A refusal is sent after accepting, so it carries a documented close code; the browser's
        # handshake error would not tell the widget whether to start a new conversation.
        token = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        if token is None:
            # Without ?token=, the first frame must be {"type": "auth", "token": ...}.
            await self.accept()
            self.auth_deadline = asyncio.create_task(self._close_unless_authenticated())
            return
        # Joined the group before the handshake completes: nothing broadcast after the client
        # sees the socket open can miss it.
        refusal = await self._authenticate(token)
        await self.accept()
        if refusal is not None:
            await self._refuse(*refusal)

    async def _close_unless_authenticated(self) -> None:
        await asyncio.sleep(settings.CHAT_AUTH_TIMEOUT_SECONDS)
        if self.access is None:
            await self._close(protocol.CLOSE_UNAUTHORIZED)

    async def _authenticate(self, token: str) -> tuple[int, str | None] | None:
        """Check the token and origin and take a socket slot; None when the socket may proceed,
        else the close code (and error message) to refuse it with."""
        public_id: UUID = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.client_ip = scope_client_ip(self.scope)
        result = await db(_access_and_lease)(
            public_id=public_id,
            token=token,
            origin=_origin(self.scope),
            client_ip=self.client_ip,
            channel_name=self.channel_name,
        )
        if isinstance(result, ChatDenied):
            forbidden = result.reason == "forbidden_origin"
            return (protocol.CLOSE_FORBIDDEN_ORIGIN if forbidden else protocol.CLOSE_UNAUTHORIZED), None
        if isinstance(result, str):
            if self.client_ip is None:
                logger.warning("chat socket refused: client address unknown (check TRUSTED_PROXY_COUNT)")
            return protocol.CLOSE_TOO_MANY_CONNECTIONS, result
        # placeholder -> this conversation's own original value, loaded when first needed
        self.pii_values: dict[str, str] = {}
        self.acked_client_ids: dict[str, None] = {}  # insertion-ordered, bounded
        self.delivered_seqs: dict[int, None] = {}  # insertion-ordered, bounded
        self.group = events.conversation_group(result.public_id)
        self.bucket = TokenBucket(capacity=settings.CHAT_RATE_BURST, refill_per_second=settings.CHAT_RATE_PER_SECOND)
        self.typing_bucket = TokenBucket(
            capacity=settings.CHAT_TYPING_BURST, refill_per_second=settings.CHAT_TYPING_PER_SECOND
        )
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.access = result
        self.lease_renewal = asyncio.create_task(self._renew_leases())
        return None

    async def _refuse(self, code: int, message: str | None) -> None:
        if message:
            await self._error("too_many_connections", message)
        await self._close(code)

    async def _renew_leases(self) -> None:
        assert self.access is not None and self.client_ip is not None
        while True:
            await asyncio.sleep(SOCKET_LEASE_RENEW_SECONDS)
            with contextlib.suppress(Exception):  # a missed renewal is retried; the lease outlives several
                await db(socket_lease_renew)(
                    conversation_id=self.access.conversation_id,
                    client_ip=self.client_ip,
                    channel_name=self.channel_name,
                )

    async def _close(self, code: int) -> None:
        self.closed = True
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        for task in (self.auth_deadline, self.lease_renewal):
            if task is not None:
                task.cancel()
        if self.access is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            assert self.client_ip is not None
            await db(socket_lease_release)(
                conversation_id=self.access.conversation_id, client_ip=self.client_ip, channel_name=self.channel_name
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closed:
            return
        if (
            text_data is not None
            and len(text_data) * 4 > settings.CHAT_MAX_FRAME_BYTES
            and len(text_data.encode()) > settings.CHAT_MAX_FRAME_BYTES
        ):
            await self._error("too_large", f"frame is larger than {settings.CHAT_MAX_FRAME_BYTES} bytes")
            await self._close(protocol.CLOSE_TOO_LARGE)
            return
        if self.access is None:
            await self._receive_auth(text_data)
            return
        if text_data is None:
            await self._error("bad_frame", "send JSON in text frames")
            return
        frame: protocol.ClientFrame | protocol.ProtocolError
        try:
            frame = protocol.parse_client_frame(text_data, max_text_chars=settings.CHAT_MAX_MESSAGE_CHARS)
        except protocol.ProtocolError as error:
            frame = error  # answered after the rate limit, so a flood of bad frames is limited too
        if isinstance(frame, protocol.Typing):
            # Typing is best-effort and has its own budget: a fast typist must never use up the
            # frames a confirm or a message needs, and an over-budget indicator is simply dropped.
            if self.typing_bucket.take():
                return
        else:
            wait = self.bucket.take()
            if wait:
                await self._error("rate_limited", "too many frames; slow down", retry_after=wait)
                return
        try:
            if isinstance(frame, protocol.ProtocolError):
                raise frame
            await self._dispatch(frame)
        except CodedError as error:  # ProtocolError, MessageRejected, ConversationStateError
            await self._error(error.code, error.message)
        except Conversation.DoesNotExist:
            await self.close(code=protocol.CLOSE_UNAUTHORIZED)
        except INFRASTRUCTURE_ERRORS as error:  # Postgres or Redis away: the socket stays, the client resends
            logger.warning("chat frame failed: %s", type(error).__name__, exc_info=not isinstance(error, OUTAGE_ERRORS))
            await self._error("unavailable", "temporarily unavailable; retry shortly", retry_after=2.0)

    async def _receive_auth(self, text_data: str | None) -> None:
        """Before authentication the only frame is {"type": "auth", "token": "..."}; anything else
        (or a second connection attempt's stray frame) closes the socket as unauthorized."""
        if self.auth_deadline is None or self.auth_deadline.done():
            return  # authenticating through ?token= (or already refused): frames wait for nothing
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except json.JSONDecodeError:
            frame = None
        token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "auth" else None
        self.auth_deadline.cancel()
        if not isinstance(token, str) or not token:
            await self._close(protocol.CLOSE_UNAUTHORIZED)
            return
        refusal = await self._authenticate(token)
        if refusal is not None:
            await self._refuse(*refusal)

    async def _dispatch(self, frame: protocol.ClientFrame) -> None:
        # A customer message's way to its bot turn, for the capacity benchmark's trace (off in production).
        traced = trace_message_begin() if isinstance(frame, protocol.SendMessage) else None
        try:
            await self._dispatch_frame(frame)
        finally:
            trace_message_end(traced)

    async def _dispatch_frame(self, frame: protocol.ClientFrame) -> None:
        assert self.access is not None
        conversation_id = self.access.conversation_id
        # Frames that store or send something count against the shared per-conversation and
        # per-network limits; resume, typing, request_human and action are idempotent or free.
        if isinstance(frame, (protocol.SendMessage, protocol.Csat, protocol.TranscriptRequest)):
            exceeded = await db(message_limits_check)(conversation_id=conversation_id, client_ip=self.client_ip)
            if exceeded is not None:
                await self._error(exceeded.code, exceeded.message, retry_after=round(exceeded.retry_after, 1))
                return
        if isinstance(frame, protocol.SendMessage):
            # The turn counts failed verifications per network too; the address stays in Redis.
            # Once per socket and then every few minutes (it expires after an hour), not per message.
            now = asyncio.get_running_loop().time()
            if now - self.client_ip_remembered_at > CLIENT_IP_REFRESH_SECONDS:
                await db(conversation_client_ip_remember)(conversation_id=conversation_id, client_ip=self.client_ip)
                self.client_ip_remembered_at = now
            # Detection runs in the redaction workers (guardrails/pii/pool.py): neither this loop
            # nor a pool thread waits on spaCy, and concurrent messages batch together.
            detected = await text_detect_async(text=frame.text) if frame.text.strip() else []
            posted, pending = await call_service(
                customer_message_post,
                conversation_id=conversation_id,
                text=frame.text,
                client_id=frame.client_id,
                detected=detected,
                attachment_id=frame.attachment,
            )
            # Ack first: the sender learns its seq without waiting for the fan-out.
            self._remember_acked(str(frame.client_id))
            await self._send(protocol.ack_frame(posted.message))
            trace_mark("acked")
            await events.publish_collected(pending)
            trace_mark("published")
            if posted.created and posted.conversation is not None and posted.conversation.bot_may_answer:
                turn_schedule(conversation_id)
        elif isinstance(frame, protocol.Resume):
            await self._replay(frame.after_seq)
        elif isinstance(frame, protocol.Typing):
            await events.publish_typing(
                public_id=self.access.public_id,
                role="customer",
                state=frame.state,
                author="",
                sender_channel=self.channel_name,
            )
        elif isinstance(frame, protocol.RequestHuman):
            _, pending = await call_service(
                conversation_request_human, conversation_id=conversation_id, reason="customer_request"
            )
            await events.publish_collected(pending)
        elif isinstance(frame, protocol.Csat):
            _, pending = await call_service(
                conversation_rate, conversation_id=conversation_id, score=frame.score, comment=frame.comment
            )
            await events.publish_collected(pending)
        elif isinstance(frame, protocol.Feedback):
            _, pending = await call_service(
                message_feedback_record,
                conversation_id=conversation_id,
                seq=frame.seq,
                rating=frame.rating,
                comment=frame.comment,
            )
            await self._send(protocol.feedback_saved_frame(seq=frame.seq, rating=frame.rating))
            await events.publish_collected(pending)
        elif isinstance(frame, protocol.TranscriptRequest):
            await db(transcript_email_request)(conversation_id=conversation_id, email=frame.email)
        elif isinstance(frame, protocol.ActionDecision):
            decided, pending = await call_service(
                action_decide, conversation_id=conversation_id, action_id=frame.action_id, decision=frame.decision
            )
            await events.publish_collected(pending)
            if decided.execute:
                # Not awaited here: the change must complete even if this socket goes away now.
                action_execution_schedule(action=decided.action, public_id=self.access.public_id)

    async def _replay(self, after_seq: int) -> None:
        """Send every stored message after `after_seq` in seq order, then `resumed`.

        The socket joined the group before this read, so nothing can fall in between; a message
        committed meanwhile comes both ways (replay and broadcast) and goes out once.
        """
        assert self.access is not None
        last_seq = after_seq
        while True:
            frames, status = await db(_replay_batch)(
                conversation_id=self.access.conversation_id, after_seq=last_seq, limit=settings.CHAT_REPLAY_BATCH
            )
            for frame in frames:
                if self._first_delivery(frame["seq"]):
                    await self._send(frame)
            if frames:
                last_seq = frames[-1]["seq"]
            if status is not None:
                break
        # A fresh token with every `resumed`: a long-open widget never holds an expiring one, and
        # the token it started with still works until it expires.
        token = conversation_token_issue(
            conversation_id=self.access.public_id, site_key=self.access.site_key, customer_key=self.access.customer_key
        )
        await self._send({"type": "resumed", "last_seq": last_seq, "token": token})
        await self._send(status)

    def _first_delivery(self, seq: int) -> bool:
        """True the first time this socket is about to send the message `seq`."""
        if seq in self.delivered_seqs:
            return False
        self.delivered_seqs[seq] = None
        if len(self.delivered_seqs) > DELIVERED_MEMORY:
            del self.delivered_seqs[next(iter(self.delivered_seqs))]
        return True

    def _remember_acked(self, client_id: str) -> None:
        self.acked_client_ids[client_id] = None
        if len(self.acked_client_ids) > ACKED_MEMORY:
            del self.acked_client_ids[next(iter(self.acked_client_ids))]

    # Group events -------------------------------------------------------------------------

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        # The sender already has this message: its text, and its seq from the ack.
        if event["message"].get("client_id") in self.acked_client_ids:
            return
        if self._first_delivery(event["message"]["seq"]):
            await self._send(event["message"])

    async def chat_typing(self, event: events.ChatTypingEvent) -> None:
        if event["sender_channel"] == self.channel_name or event["role"] == "customer":
            return
        frame: protocol.TypingFrame = {"type": "typing", "role": event["role"], "state": event["state"]}
        if event["author"]:
            frame["author"] = event["author"]
        await self._send(frame)

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        await self._send(event["status"])

    async def chat_delta(self, event: events.ChatDeltaEvent) -> None:
        await self._send({"type": "delta", "turn_id": event["turn_id"], "text": event["text"]})

    async def chat_activity(self, event: events.ChatActivityEvent) -> None:
        frame: protocol.TypingFrame = {
            "type": "typing",
            "role": "bot",
            "state": event["state"],
            "activity": event["activity"],
        }
        await self._send(frame)

    async def inbox_changed(self, event: events.InboxChangedEvent) -> None:
        return None  # conversation groups never carry these; the handler keeps a stray one harmless

    async def layer_reconnected(self, event: dict) -> None:
        # Redis came back: whatever was broadcast while it was away never arrived. The client
        # reconnects and resumes from its last seq (protocol: 4012), which misses nothing.
        await self._close(CLOSE_CATCH_UP)

    # --------------------------------------------------------------------------------------

    async def _send(self, frame: Any) -> None:
        if frame.get("type") in ("message", "delta"):
            frame = await self._rehydrated(frame)
            if frame.get("attachments"):
                assert self.access is not None
                frame = {
                    **frame,
                    "attachments": attachments_for_customer(
                        frame["attachments"], customer_key=self.access.customer_key
                    ),
                }
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def _rehydrated(self, frame: dict) -> dict:
        """The customer's own connection sees the customer's own values again: the placeholders
        of this conversation are resolved from the vault for this socket only. Everything stored
        and broadcast keeps the placeholders."""
        assert self.access is not None
        wanted = frame_placeholders(frame)
        if not wanted:
            return frame
        missing = wanted - self.pii_values.keys()
        if missing:
            self.pii_values.update(
                await db(vault_values)(conversation_id=self.access.conversation_id, placeholders=missing)
            )
        return frame_rehydrate(frame, self.pii_values)

    async def _error(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        await self._send(protocol.error_frame(code, message, retry_after=retry_after))


def _origin(scope: Mapping[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return None
