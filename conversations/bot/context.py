"""What a bot turn reads from the database before it starts, and what it writes when it ends.
Both are short transactions: the model call in between never holds one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from conversations.chat.messages import message_post
from conversations.handoff.services import conversation_request_human
from conversations.lib.languages import DEFAULT_LANGUAGE
from conversations.models import Conversation, Customer, Message, WidgetSite

# Turns in a row without a grounded answer after which the bot brings in a person
# (docs/handoff.md, reason `missing_knowledge`); the reply of the last one says so.
MISSES_BEFORE_HANDOFF = 2


@dataclass
class TurnInput:
    conversation_id: int
    public_id: str
    site_id: int
    company: str
    customer_id: str | None  # commerce API id: the signed user, or verified in this conversation
    question: str  # the unanswered customer messages, redacted
    history: list[tuple[str, str]]  # (role, redacted text) before the question, oldest first
    earlier_summary: str
    state: dict[str, Any]
    miss_streak: int
    up_to_seq: int
    question_understood: str = ""  # the question with shorthand and typos spelled out (set by the turn)
    language: str = "en"  # the customer's: retrieval prefers it, replies are written in it


_INPUT_SQL = f"""
SELECT c.public_id, c.site_id, c.status, c.bot_answered_seq, c.bot_state, c.bot_miss_streak, c.language,
       c.verified_customer_id, c.verified_until, s.name, cu.external_id,
       (SELECT json_agg(json_build_array(m.seq, m.role, m.text, m.extras -> 'attachments') ORDER BY m.seq DESC)
        FROM (SELECT seq, role, text, extras FROM {Message._meta.db_table}
              WHERE conversation_id = c.id AND seq <= %(up_to_seq)s AND role <> 'system'
              ORDER BY seq DESC
              LIMIT GREATEST(0, %(up_to_seq)s - c.bot_answered_seq) + %(window)s) AS m)
FROM {Conversation._meta.db_table} AS c
JOIN {WidgetSite._meta.db_table} AS s ON s.id = c.site_id
JOIN {Customer._meta.db_table} AS cu ON cu.id = c.customer_id
WHERE c.id = %(id)s
"""


def turn_input_load(*, conversation_id: int, up_to_seq: int, history_messages: int) -> TurnInput | None:
    """One statement, no model instances: the conversation's columns the turn reads (with its
    site's name and customer's id) and its newest messages up to `up_to_seq`. Seqs are unique per
    conversation, so the newest (up_to_seq - bot_answered_seq) rows cover every unanswered one
    and the rest is history."""
    with connection.cursor() as cursor:
        cursor.execute(_INPUT_SQL, {"id": conversation_id, "up_to_seq": up_to_seq, "window": history_messages * 3})
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist(f"no conversation {conversation_id}")
    (public_id, site_id, status, answered, bot_state, miss_streak, language, verified_id, verified_until) = row[:9]
    site_name, external_id, messages = row[9:]
    if status != Conversation.Status.BOT:
        return None
    bot_state = _json(bot_state) or {}
    rows = [
        (seq, role, _with_attachment_note(text, attachments)) for seq, role, text, attachments in _json(messages) or ()
    ]
    unanswered = [text for seq, role, text in reversed(rows) if seq > answered and role == Message.Role.CUSTOMER]
    if not unanswered:
        return None
    # Everything but the unanswered questions: the bot's (and an agent's) replies come after the
    # customer message they answer, so a seq past `answered` is still history for them.
    earlier = [(role, text) for seq, role, text in rows if seq <= answered or role != Message.Role.CUSTOMER][
        : history_messages * 3
    ]
    earlier.reverse()
    window, older = earlier[-history_messages:], earlier[:-history_messages]
    # A rolling summary of what fell out of the window: the customer's earlier questions, extractively.
    summary = " / ".join(text.split("\n")[0][:120] for role, text in older if role == Message.Role.CUSTOMER)[-800:]
    if bot_state.get("agent_summary"):
        summary = f"A person from the team handled part of this conversation: {bot_state['agent_summary']}" + (
            f" Earlier questions: {summary}" if summary else ""
        )
    return TurnInput(
        conversation_id=conversation_id,
        public_id=str(public_id),
        site_id=site_id,
        company=site_name,
        customer_id=external_id or _still_verified(verified_id, verified_until),
        question="\n".join(unanswered),
        history=window,
        earlier_summary=summary,
        state=dict(bot_state),
        miss_streak=miss_streak,
        up_to_seq=up_to_seq,
        language=language or DEFAULT_LANGUAGE,
    )


def _json(value: Any) -> Any:
    # Django's psycopg setup hands jsonb over as text (JSONField decodes it); json_agg's json too.
    return json.loads(value) if isinstance(value, str) else value


def _with_attachment_note(text: str, attachments: list[dict[str, Any]] | None) -> str:
    """Files never reach the model (nor their names, which may say more than the customer meant
    to): the turn only learns that one was sent."""
    if not attachments:
        return text
    kinds = {"image" if str(a.get("content_type", "")).startswith("image/") else "document" for a in attachments}
    note = " ".join(f"[sent {'an image' if kind == 'image' else 'a PDF document'}]" for kind in sorted(kinds))
    return f"{text}\n{note}" if text.strip() else note


def _still_verified(verified_customer_id: str, until: datetime | None) -> str | None:
    # An order number + email verification lasts VERIFY_TTL_MINUTES (tools.py also limits it to that order).
    if verified_customer_id and until and until > timezone.now():
        return verified_customer_id
    return None


@dataclass
class TurnOutput:
    text: str
    extras: dict[str, Any] = field(default_factory=dict)
    answered: bool = True
    handoff_reason: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    verified_customer_id: str | None = None


# What an agent did before handing back (`agent_summary`) stays in the bot's state for the rest of
# the conversation; the turn's own state replaces everything else.
_OUTPUT_SQL = f"""
UPDATE {Conversation._meta.db_table}
SET bot_answered_seq = GREATEST(bot_answered_seq, %(up_to_seq)s),
    bot_state = CASE WHEN bot_state ? 'agent_summary'
                     THEN jsonb_build_object('agent_summary', bot_state -> 'agent_summary')
                     ELSE '{{}}'::jsonb END || %(state)s::jsonb,
    bot_miss_streak = CASE WHEN %(answered)s THEN 0 ELSE bot_miss_streak + 1 END,
    verified_customer_id = COALESCE(%(verified)s, verified_customer_id)
WHERE id = %(id)s
RETURNING status, bot_miss_streak
"""


def turn_output_post(*, conversation_id: int, up_to_seq: int, output: TurnOutput) -> Message | None:
    """Post the bot's reply, unless a person took the conversation over meanwhile: the row lock
    orders this against an agent's takeover, so the bot never speaks after a human joined."""
    with transaction.atomic():
        # The UPDATE takes the row lock and returns what the reply depends on, in one round trip.
        with connection.cursor() as cursor:
            cursor.execute(
                _OUTPUT_SQL,
                {
                    "id": conversation_id,
                    "up_to_seq": up_to_seq,
                    "state": json.dumps(output.state),
                    "answered": output.answered,
                    "verified": output.verified_customer_id or None,
                },
            )
            row = cursor.fetchone()
        if row is None:
            raise Conversation.DoesNotExist(f"no conversation {conversation_id}")
        status, miss_streak = row
        if status != Conversation.Status.BOT:
            return None
        # Whether this reply was a grounded answer: the content-gap report and the answer-rate
        # metrics read it from the message, long after the turn's other state is gone.
        extras = {**output.extras, "answered": output.answered}
        message = message_post(
            conversation_id=conversation_id, role=Message.Role.BOT, text=output.text, extras=extras, max_chars=20_000
        ).message
        reason = output.handoff_reason
        if reason is None and miss_streak >= MISSES_BEFORE_HANDOFF:
            reason = Conversation.HandoffReason.MISSING_KNOWLEDGE
        if reason:
            conversation_request_human(conversation_id=conversation_id, reason=reason)
        return message
