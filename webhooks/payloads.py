"""The `data` of each webhook event, built from what the emitting code already holds (no queries).

Texts are the stored, redacted ones: personal data appears as vault placeholders
(`<EMAIL_ADDRESS_1>`), never re-hydrated. The envelope around `data` (id, type, created_at, site,
conversation_id) is added by webhooks.services.webhook_events_enqueue. Shapes: docs/webhooks.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from conversations.models import ActionCall, Conversation, Handoff, Message


class AgentRef(TypedDict):
    id: int
    name: str


def _agent(user: Any) -> AgentRef | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.first_name or user.get_username()}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


class ConversationCreated(TypedDict):
    status: str
    customer: dict[str, Any]


def conversation_created(conversation: Conversation) -> ConversationCreated:
    customer = conversation.customer
    # external_id is the host site's own user id, set only when its signature verified.
    return {
        "status": conversation.status,
        "customer": {"verified": customer.external_id is not None, "external_id": customer.external_id},
    }


class MessageCreated(TypedDict):
    seq: int
    role: Literal["customer", "bot", "agent", "system"]
    text: str
    created_at: str | None
    author: AgentRef | None


def message_created(message: Message) -> MessageCreated:
    return {
        "seq": message.seq,
        "role": message.role,  # type: ignore[typeddict-item]  # Message.Role's values are these four
        "text": message.text,
        "created_at": _iso(message.created_at),
        "author": _agent(message.author) if message.author_id else None,
    }


class HandoffOpened(TypedDict):
    handoff_id: int
    reason: str


def handoff_opened(handoff: Handoff) -> HandoffOpened:
    return {"handoff_id": handoff.pk, "reason": handoff.reason}


class HandoffAssigned(TypedDict):
    handoff_id: int
    reason: str
    agent: AgentRef | None
    by: AgentRef | None  # who assigned it; None: the routing workflow
    kind: Literal["claimed", "assigned", "transferred"]


def handoff_assigned(handoff: Handoff, *, agent: Any, by: Any, kind: str) -> HandoffAssigned:
    return {"handoff_id": handoff.pk, "reason": handoff.reason, "agent": _agent(agent), "by": _agent(by), "kind": kind}  # type: ignore[typeddict-item]


class ConversationResolved(TypedDict):
    resolution_reason: str
    resolved_by: AgentRef | None  # None: closed automatically (idle)


def conversation_resolved(*, reason: str, agent: Any) -> ConversationResolved:
    return {"resolution_reason": reason, "resolved_by": _agent(agent)}


class CsatCreated(TypedDict):
    score: int
    comment: str
    resolved_at: str | None  # identifies the resolution rated: a second rating of it replaces the first
    agent_id: int | None


def csat_created(*, conversation: Conversation, score: int, comment: str) -> CsatCreated:
    return {
        "score": score,
        "comment": comment,
        "resolved_at": _iso(conversation.resolved_at),
        "agent_id": conversation.assignee_id,
    }


class ActionExecuted(TypedDict):
    action_id: str
    tool: str
    status: Literal["succeeded", "failed"]
    error_code: str
    arguments: dict[str, Any]
    summary: str


def action_executed(action: ActionCall) -> ActionExecuted:
    return {
        "action_id": str(action.public_id),
        "tool": action.tool,
        "status": action.status,  # type: ignore[typeddict-item]
        "error_code": action.error_code,
        "arguments": action.arguments,
        "summary": action.summary,
    }
