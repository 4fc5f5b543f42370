"""What a bot turn reads from the database before it starts, and what it writes when it ends.
Both are short transactions: the model call in between never holds one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.chat.messages import message_post
from conversations.handoff.services import conversation_request_human
from conversations.lib.languages import DEFAULT_LANGUAGE
from conversations.models import Conversation, Message


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


_TURN_FIELDS = (
    "public_id",
    "site",
    "customer",
    "status",
    "bot_answered_seq",
    "bot_state",
    "bot_miss_streak",
    "language",
    "verified_customer_id",
    "verified_until",
    "site__name",
    "customer__external_id",
)


def turn_input_load(*, conversation_id: int, up_to_seq: int, history_messages: int) -> TurnInput | None:
    # Only the columns a turn reads (three wide rows otherwise, parsed on every turn).
    conversation = Conversation.objects.select_related("site", "customer").only(*_TURN_FIELDS).get(pk=conversation_id)
    if conversation.status != Conversation.Status.BOT:
        return None
    answered = conversation.bot_answered_seq
    # One query for the unanswered messages and the history before them: seqs are unique per
    # conversation, so the newest (up_to_seq - answered) rows cover every unanswered one.
    rows = [
        (seq, role, _with_attachment_note(text, attachments))
        for seq, role, text, attachments in conversation.messages.filter(seq__lte=up_to_seq)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-seq")
        .values_list("seq", "role", "text", "extras__attachments")[
            : max(0, up_to_seq - answered) + history_messages * 3
        ]
    ]
    unanswered = [text for seq, role, text in reversed(rows) if seq > answered and role == Message.Role.CUSTOMER]
    if not unanswered:
        return None
    earlier = [(role, text) for seq, role, text in rows if seq <= answered][: history_messages * 3]
    earlier.reverse()
    window, older = earlier[-history_messages:], earlier[:-history_messages]
    # A rolling summary of what fell out of the window: the customer's earlier questions, extractively.
    summary = " / ".join(text.split("\n")[0][:120] for role, text in older if role == Message.Role.CUSTOMER)[-800:]
    if conversation.bot_state.get("agent_summary"):
        summary = (
            f"A person from the team handled part of this conversation: {conversation.bot_state['agent_summary']}"
            + (f" Earlier questions: {summary}" if summary else "")
        )
    return TurnInput(
        conversation_id=conversation.pk,
        public_id=str(conversation.public_id),
        site_id=conversation.site_id,
        company=conversation.site.name,
        customer_id=conversation.customer.external_id or _still_verified(conversation),
        question="\n".join(unanswered),
        history=window,
        earlier_summary=summary,
        state=dict(conversation.bot_state),
        miss_streak=conversation.bot_miss_streak,
        up_to_seq=up_to_seq,
        language=conversation.language or DEFAULT_LANGUAGE,
    )


def _with_attachment_note(text: str, attachments: list[dict[str, Any]] | None) -> str:
    """Files never reach the model (nor their names, which may say more than the customer meant
    to): the turn only learns that one was sent."""
    if not attachments:
        return text
    kinds = {"image" if str(a.get("content_type", "")).startswith("image/") else "document" for a in attachments}
    note = " ".join(f"[sent {'an image' if kind == 'image' else 'a PDF document'}]" for kind in sorted(kinds))
    return f"{text}\n{note}" if text.strip() else note


def _still_verified(conversation: Conversation) -> str | None:
    # An order number + email verification lasts VERIFY_TTL_MINUTES (tools.py also limits it to that order).
    until = conversation.verified_until
    if conversation.verified_customer_id and until and until > timezone.now():
        return conversation.verified_customer_id
    return None


@dataclass
class TurnOutput:
    text: str
    extras: dict[str, Any] = field(default_factory=dict)
    answered: bool = True
    handoff_reason: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    verified_customer_id: str | None = None


def turn_output_post(*, conversation_id: int, up_to_seq: int, output: TurnOutput) -> Message | None:
    """Post the bot's reply, unless a person took the conversation over meanwhile: the row lock
    orders this against an agent's takeover, so the bot never speaks after a human joined."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .only("status", "bot_answered_seq", "bot_miss_streak", "bot_state")
            .get(pk=conversation_id)
        )
        # What an agent did before handing back stays in the bot's context for the rest of the conversation.
        kept = {key: conversation.bot_state[key] for key in ("agent_summary",) if key in conversation.bot_state}
        miss_streak = 0 if output.answered else conversation.bot_miss_streak + 1
        fields: dict[str, Any] = {
            "bot_answered_seq": max(conversation.bot_answered_seq, up_to_seq),
            "bot_state": {**kept, **output.state},
            "bot_miss_streak": miss_streak,
        }
        if output.verified_customer_id:
            fields["verified_customer_id"] = output.verified_customer_id
        Conversation.objects.filter(pk=conversation_id).update(**fields)
        if conversation.status != Conversation.Status.BOT:
            return None
        # Whether this reply was a grounded answer: the content-gap report and the answer-rate
        # metrics read it from the message, long after the turn's other state is gone.
        extras = {**output.extras, "answered": output.answered}
        message = message_post(
            conversation_id=conversation_id, role=Message.Role.BOT, text=output.text, extras=extras, max_chars=20_000
        ).message
        reason = output.handoff_reason
        if reason is None and miss_streak >= 2:
            reason = Conversation.HandoffReason.MISSING_KNOWLEDGE
        if reason:
            conversation_request_human(conversation_id=conversation_id, reason=reason)
        return message
