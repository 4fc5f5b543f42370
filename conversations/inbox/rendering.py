"""HTML fragments for the workspace, shared by the views (full pages) and the inbox socket (htmx
out-of-band swaps). Sync functions: they query, so the socket calls them from a thread."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.template.loader import render_to_string

from conversations.core.people import support_agents
from conversations.core.protocol import message_frame
from conversations.handoff.access import user_is_supervisor
from conversations.handoff.presence import agent_profile
from conversations.handoff.presence_selectors import effective_presence
from conversations.inbox.selectors import (
    ListQuery,
    inbox_conversation,
    inbox_conversations,
    inbox_counts,
    inbox_handoff,
    inbox_notes,
    inbox_transcript,
    last_message_previews,
    queue_counts,
)
from conversations.models import Conversation, InternalNote, MessageFeedback, Queue


def list_context(*, agent: Any, query: ListQuery, selected: UUID | None) -> dict[str, Any]:
    conversations = list(inbox_conversations(agent=agent, query=query))
    previews = last_message_previews(conversation_ids=[c.pk for c in conversations])
    return {
        "rows": [(c, previews.get(c.pk)) for c in conversations],
        "query": query,
        "view": query.view,
        "selected": selected,
        "counts": inbox_counts(agent=agent),
        "queues": queue_counts(agent=agent),
    }


def render_list(*, agent: Any, query: ListQuery, selected: UUID | None, oob: bool = False) -> str:
    return render_to_string(
        "inbox/_list.html", {**list_context(agent=agent, query=query, selected=selected), "oob": oob}
    )


def header_context(*, conversation: Conversation, agent: Any) -> dict[str, Any]:
    handoff = inbox_handoff(conversation=conversation)
    agents = support_agents().select_related("agent_profile").order_by("first_name", "username")
    return {
        "conversation": conversation,
        "handoff": handoff,
        "me": agent,
        "is_supervisor": user_is_supervisor(agent),
        "agents": [(a, effective_presence(getattr(a, "agent_profile", None))) for a in agents],
        "queues": Queue.objects.all(),
        "resolution_reasons": Conversation.ResolutionReason.choices,
    }


def render_header(*, public_id: UUID, agent: Any, oob: bool = True) -> str:
    conversation = inbox_conversation(public_id=public_id, agent=agent)
    if conversation is None:
        return ""
    return render_to_string(
        "inbox/_header.html", {**header_context(conversation=conversation, agent=agent), "oob": oob}
    )


def _transcript_items(conversation: Conversation) -> tuple[list[dict[str, Any]], set[int]]:
    messages = inbox_transcript(conversation_id=conversation.pk)
    ratings = {f.message_id: f for f in MessageFeedback.objects.filter(conversation_id=conversation.pk)}
    items: list[dict[str, Any]] = [
        {"kind": "message", "m": message_frame(m), "at": m.created_at, "feedback": ratings.get(m.pk)} for m in messages
    ]
    items += [{"kind": "note", "note": n, "at": n.created_at} for n in inbox_notes(conversation_id=conversation.pk)]
    items.sort(key=lambda item: item["at"])
    return items, {m.seq for m in messages}


def render_conversation_parts(*, public_id: UUID, agent: Any, oob: bool = False) -> tuple[str, set[int]]:
    """The header and the whole transcript (notes in place); also the seqs rendered, so the
    socket can skip broadcasts it already showed."""
    conversation = inbox_conversation(public_id=public_id, agent=agent)
    if conversation is None:
        return "", set()
    items, seqs = _transcript_items(conversation)
    html = render_to_string(
        "inbox/_header.html", {**header_context(conversation=conversation, agent=agent), "oob": oob}
    )
    html += render_to_string("inbox/_transcript.html", {"conversation": conversation, "items": items, "oob": oob})
    return html, seqs


def render_message_append(*, frame: dict[str, Any]) -> str:
    return render_to_string("inbox/_message_append.html", {"m": frame})


def render_feedback(*, public_id: UUID, seq: int) -> str:
    """The customer's current rating of one bot answer, swapped in place of the old one."""
    feedback = MessageFeedback.objects.filter(conversation__public_id=public_id, message__seq=seq).first()
    return render_to_string("inbox/_feedback.html", {"m": {"seq": seq}, "feedback": feedback, "feedback_oob": True})


def render_note_append(*, note_id: int) -> str:
    note = InternalNote.objects.select_related("author").filter(pk=note_id).first()
    return render_to_string("inbox/_note_append.html", {"note": note}) if note else ""


def render_typing(*, role: str, state: bool, author: str) -> str:
    who = author or ("The customer" if role == "customer" else "Someone")
    return render_to_string("inbox/_typing.html", {"state": state, "who": who, "oob": True})


def render_toast(*, title: str, body: str, conversation_id: str) -> str:
    return render_to_string("inbox/_toast.html", {"title": title, "body": body, "conversation_id": conversation_id})


def render_viewers(*, names: list[str]) -> str:
    return render_to_string("inbox/_viewers.html", {"names": names})


def render_presence(*, agent: Any) -> str:
    profile = agent_profile(agent)
    return render_to_string(
        "inbox/_presence.html", {"profile": profile, "effective": effective_presence(profile), "oob": True}
    )
