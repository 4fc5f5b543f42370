"""The append of one chat message: a single SQL statement on the hottest path of the product.

Hand-written SQL rather than the ORM, on purpose and only here: the ORM needs five round trips
(BEGIN, SELECT ... FOR UPDATE, UPDATE, INSERT, COMMIT) and several times the Python time; one
statement in autocommit is one round trip and is atomic by itself. benchmarks/chat_transport.py
measures the difference.

The statement locks the conversation row (FOR UPDATE re-reads the latest committed version
under concurrency), bumps last_seq, optionally reopens a resolved conversation, and inserts the
message with the new seq. A duplicate client_id violates message_unique_client_id and fails the
whole statement, bump included, so seqs stay gapless. It also returns what a customer's message
decides next (the conversation's language and status, its site's bot and routing flags) as the
append left them, so those decisions cost no further query (benchmarks/turn_cpu.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from django.db import connection

from conversations.models import Conversation, Message, WidgetSite

_CONVERSATION = Conversation._meta.db_table
_MESSAGE = Message._meta.db_table
_SITE = WidgetSite._meta.db_table

_APPEND_SQL = f"""
WITH previous AS (
    SELECT id, status FROM {_CONVERSATION} WHERE id = %(conversation_id)s FOR UPDATE
), reopening AS (
    SELECT id, (%(reopen)s AND status = 'resolved') AS reopen FROM previous
), bumped AS (
    UPDATE {_CONVERSATION} AS c SET
        last_seq = c.last_seq + 1,
        last_message_at = %(now)s,
        updated_at = %(now)s,
        last_customer_message_at = CASE WHEN %(is_customer)s THEN %(now)s ELSE c.last_customer_message_at END,
        status = CASE WHEN r.reopen THEN 'bot' ELSE c.status END,
        resolved_at = CASE WHEN r.reopen THEN NULL ELSE c.resolved_at END,
        assignee_id = CASE WHEN r.reopen THEN NULL ELSE c.assignee_id END,
        handoff_reason = CASE WHEN r.reopen THEN '' ELSE c.handoff_reason END,
        csat_score = CASE WHEN r.reopen THEN NULL ELSE c.csat_score END,
        csat_comment = CASE WHEN r.reopen THEN '' ELSE c.csat_comment END,
        -- A reopened conversation starts fresh with the bot: an old miss streak or a half-asked
        -- question must not bounce it straight back into a handoff.
        bot_miss_streak = CASE WHEN r.reopen THEN 0 ELSE c.bot_miss_streak END,
        bot_state = CASE WHEN r.reopen THEN '{{}}'::jsonb ELSE c.bot_state END,
        resolution_reason = CASE WHEN r.reopen THEN '' ELSE c.resolution_reason END,
        -- Nor does it inherit an order number + email verification (a resolve clears it too).
        verified_customer_id = CASE WHEN r.reopen THEN '' ELSE c.verified_customer_id END,
        verified_order_number = CASE WHEN r.reopen THEN '' ELSE c.verified_order_number END,
        verified_until = CASE WHEN r.reopen THEN NULL ELSE c.verified_until END
    FROM reopening AS r
    WHERE c.id = r.id
    RETURNING c.last_seq, c.public_id, r.reopen, c.site_id, c.status, c.language, c.language_detected
), inserted AS (
    INSERT INTO {_MESSAGE} (conversation_id, seq, role, text, client_id, author_id, extras, created_at)
    SELECT %(conversation_id)s, bumped.last_seq, %(role)s, %(text)s, %(client_id)s, %(author_id)s,
           %(extras)s::jsonb, %(now)s
    FROM bumped
    RETURNING id, seq
)
SELECT inserted.id, inserted.seq, bumped.public_id, bumped.reopen,
       bumped.status, bumped.language, bumped.language_detected, site.bot_enabled, site.handoff_when_bot_off
FROM inserted, bumped JOIN {_SITE} AS site ON site.id = bumped.site_id
"""


@dataclass(frozen=True)
class ConversationState:
    """The conversation as an append left it, read under its row lock: a snapshot that later
    changes (a claim, a resolve, the site's settings) may overtake."""

    status: str
    language: str
    language_detected: bool
    site_bot_enabled: bool
    site_handoff_when_bot_off: bool

    @property
    def bot_may_answer(self) -> bool:
        """Whether a bot turn could claim the conversation now (the same two conditions as the
        turn lease's claim): when not, a customer's message schedules no turn, which saves a
        thread-pool trip and a claim UPDATE per message on bot-off sites and in agents' chats. A
        conversation handed back to the bot later is answered by the stalled-turn recovery, as
        when the claim itself found it with a person."""
        return self.status == Conversation.Status.BOT and self.site_bot_enabled


@dataclass(frozen=True)
class Appended:
    message: Message
    public_id: UUID
    reopened: bool
    conversation: ConversationState


def message_append(
    *,
    conversation_id: int,
    role: str,
    text: str,
    client_id: UUID | None,
    author: Any,
    extras: dict,
    now: datetime,
    reopen: bool,
) -> Appended:
    """Append one message; raises Conversation.DoesNotExist or IntegrityError (duplicate client_id)."""
    connection.ensure_connection()
    # A plain psycopg cursor, not Django's client-side-binding one: parameters travel separately
    # and psycopg prepares the statement after a few executions on a connection, so neither the
    # query text nor its plan is rebuilt per message (measured in benchmarks/chat_transport.py).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            _APPEND_SQL,
            {
                "conversation_id": conversation_id,
                "role": role,
                "text": text,
                "client_id": client_id,
                "author_id": author.pk if author is not None else None,
                "extras": json.dumps(extras),
                "now": now,
                "is_customer": role == Message.Role.CUSTOMER,
                "reopen": reopen,
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist(f"conversation {conversation_id} does not exist")
    message_id, seq, public_id, reopened, *state = row
    message = Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        role=role,
        text=text,
        client_id=client_id,
        author=author,
        extras=extras,
        created_at=now,
    )
    return Appended(
        message=message, public_id=public_id, reopened=bool(reopened), conversation=ConversationState(*state)
    )
