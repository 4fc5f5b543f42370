"""HTML fragments for the inbox, shared by the views (full pages) and the inbox socket (htmx
out-of-band swaps). Sync functions: they query, so the socket calls them from a thread."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.template.loader import render_to_string

from conversations.protocol import message_frame
from conversations.selectors import (
    InboxFilter,
    inbox_conversation,
    inbox_conversations,
    inbox_counts,
    inbox_transcript,
    last_message_previews,
)


def list_context(*, agent: Any, view: InboxFilter, selected: UUID | None) -> dict[str, Any]:
    conversations = list(inbox_conversations(agent=agent, view=view))
    previews = last_message_previews(conversation_ids=[c.pk for c in conversations])
    return {
        "rows": [(c, previews.get(c.pk)) for c in conversations],
        "view": view,
        "selected": selected,
        "counts": inbox_counts(),
    }


def render_list(*, agent: Any, view: InboxFilter, selected: UUID | None, oob: bool = False) -> str:
    return render_to_string("inbox/_list.html", {**list_context(agent=agent, view=view, selected=selected), "oob": oob})


def render_conversation_parts(*, public_id: UUID, oob: bool = False) -> tuple[str, set[int]]:
    """The header and the whole transcript; also the seqs rendered, so the socket can skip
    broadcasts it already showed."""
    conversation = inbox_conversation(public_id=public_id)
    if conversation is None:
        return "", set()
    messages = inbox_transcript(conversation_id=conversation.pk)
    html = render_to_string("inbox/_header.html", {"conversation": conversation, "oob": oob}) + render_to_string(
        "inbox/_transcript.html",
        {"conversation": conversation, "messages": [message_frame(m) for m in messages], "oob": oob},
    )
    return html, {m.seq for m in messages}


def render_header(*, public_id: UUID) -> str:
    conversation = inbox_conversation(public_id=public_id)
    if conversation is None:
        return ""
    return render_to_string("inbox/_header.html", {"conversation": conversation, "oob": True})


def render_message_append(*, frame: dict[str, Any]) -> str:
    return render_to_string("inbox/_message_append.html", {"m": frame})


def render_typing(*, role: str, state: bool, author: str) -> str:
    who = author or ("The customer" if role == "customer" else "Someone")
    return render_to_string("inbox/_typing.html", {"state": state, "who": who, "oob": True})
