"""The workspace's reads. Every one is scoped to what the agent may see (handoff/access.py):
a conversation outside the agent's queues is absent from lists and counts and reads as missing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from django.contrib.postgres.search import SearchQuery
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from conversations.handoff.access import agent_queue_ids, conversations_visible_q, user_is_supervisor
from conversations.models import (
    MESSAGE_SEARCH_CONFIG,
    CannedResponse,
    Conversation,
    Handoff,
    InternalNote,
    Message,
    Queue,
)

InboxFilter = Literal["mine", "unassigned", "waiting", "open", "resolved", "all"]
INBOX_FILTERS: tuple[InboxFilter, ...] = ("mine", "unassigned", "waiting", "open", "resolved", "all")
SEARCH_MAX_CHARS = 100
SEARCH_MAX_WORDS = 8
SEARCH_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class ListQuery:
    view: InboxFilter = "open"
    queue_id: int | None = None
    search: str = ""

    @classmethod
    def from_params(cls, params: Any) -> ListQuery:
        view = params.get("view", "open")
        try:
            queue_id = int(params.get("queue", "") or 0) or None
        except ValueError:
            queue_id = None
        return cls(
            view=view if view in INBOX_FILTERS else "open",
            queue_id=queue_id,
            # Postgres cannot compare text holding NUL: `?q=%00` must not fail the query.
            search=(params.get("q", "") or "").replace("\x00", "").strip()[:SEARCH_MAX_CHARS],
        )

    def as_params(self) -> str:
        from urllib.parse import urlencode

        params: dict[str, str] = {"view": self.view}
        if self.queue_id:
            params["queue"] = str(self.queue_id)
        if self.search:
            params["q"] = self.search
        return urlencode(params)


def visible_conversations(*, agent: Any) -> QuerySet[Conversation]:
    return Conversation.objects.filter(conversations_visible_q(agent))


def _listed(agent: Any) -> QuerySet[Conversation]:
    """Lists skip conversations nobody has written in yet (a widget merely opened)."""
    return visible_conversations(agent=agent).filter(last_seq__gt=0)


def inbox_conversations(*, agent: Any, query: ListQuery, limit: int = 50) -> QuerySet[Conversation]:
    """The list: waiting ones by how long they have waited, others by latest activity."""
    queryset = _listed(agent).select_related("customer", "assignee", "site", "queue")
    open_ = ~Q(status=Conversation.Status.RESOLVED)
    if query.view == "mine":
        queryset = queryset.filter(open_, assignee=agent)
    elif query.view == "unassigned":
        queryset = queryset.filter(open_, assignee__isnull=True)
    elif query.view == "waiting":
        queryset = queryset.filter(status=Conversation.Status.QUEUED)
    elif query.view == "open":
        queryset = queryset.filter(open_)
    elif query.view == "resolved":
        queryset = queryset.filter(status=Conversation.Status.RESOLVED)
    if query.queue_id:
        queryset = queryset.filter(queue_id=query.queue_id)
    order = "updated_at" if query.view == "waiting" else "-last_message_at"
    if not query.search:
        return queryset.order_by(order)[:limit]
    # One query per way of matching, each ordered and cut to the page, then merged. An OR of them
    # would keep Postgres from planning each well: with EXISTS alone it walks the list and stops
    # at the page for a common word, or joins from the index hits for a rare one; an OR of
    # IN-subqueries rescans the subquery's rows per conversation once they outgrow work_mem (a
    # common word over 400k messages took minutes; benchmarks/inbox_search.py).
    pages = [queryset.filter(condition).order_by(order)[:limit] for condition in _search_conditions(query.search)]
    if len(pages) == 1:
        return pages[0]
    return pages[0].union(*pages[1:]).order_by(order)[:limit]


def _search_conditions(term: str) -> list[Q | Exists]:
    """Messages by full-text search (every word, each as a prefix, so "refu" finds "refunds"),
    customers by their id at the company, conversations by the start of their id. Stored text is
    redacted, so a customer's email cannot be found (by design)."""
    conditions: list[Q | Exists] = [Q(customer__external_id__icontains=term)]
    words = SEARCH_WORD.findall(term)[:SEARCH_MAX_WORDS]
    if words:
        # Only word characters reach the raw tsquery, so no input can make it malformed.
        tsquery = SearchQuery(
            " & ".join(f"{word}:*" for word in words), search_type="raw", config=MESSAGE_SEARCH_CONFIG
        )
        conditions.append(Exists(Message.objects.filter(conversation_id=OuterRef("pk"), search_document=tsquery)))
    if len(term) >= 4 and _hexish(term):
        conditions.append(Q(public_id__startswith=term.lower()))
    return conditions


def _hexish(term: str) -> bool:
    return all(c in "0123456789abcdef-" for c in term.lower())


def inbox_counts(*, agent: Any) -> dict[str, int]:
    open_ = ~Q(status=Conversation.Status.RESOLVED)
    return _listed(agent).aggregate(
        open=Count("id", filter=open_),
        waiting=Count("id", filter=Q(status=Conversation.Status.QUEUED)),
        unassigned=Count("id", filter=Q(assignee__isnull=True) & open_),
        mine=Count("id", filter=Q(assignee=agent) & open_),
    )


@dataclass(frozen=True)
class QueueCount:
    queue: Queue
    waiting: int
    open: int


def queue_counts(*, agent: Any) -> list[QueueCount]:
    """The queues this agent serves (all of them for supervisors) with live counts."""
    queues = Queue.objects.all() if user_is_supervisor(agent) else Queue.objects.filter(id__in=agent_queue_ids(agent))
    queues = queues.annotate(
        waiting=Count("conversations", filter=Q(conversations__status=Conversation.Status.QUEUED)),
        open=Count("conversations", filter=~Q(conversations__status=Conversation.Status.RESOLVED)),
    )
    return [QueueCount(q, q.waiting, q.open) for q in queues]


def inbox_conversation(*, public_id: UUID, agent: Any) -> Conversation | None:
    return (
        visible_conversations(agent=agent)
        .select_related("customer", "assignee", "site", "queue")
        .prefetch_related(Prefetch("handoffs", queryset=Handoff.objects.select_related("queue", "assignee")))
        .filter(public_id=public_id)
        .first()
    )


def inbox_handoff(*, conversation: Conversation) -> Handoff | None:
    """The open handoff, else the latest one (its summary still helps after resolving)."""
    handoffs = list(conversation.handoffs.all())
    open_ = [h for h in handoffs if h.is_open]
    return open_[0] if open_ else (handoffs[0] if handoffs else None)


def inbox_transcript(*, conversation_id: int, limit: int = 500) -> list[Message]:
    """The latest `limit` messages in seq order."""
    latest = list(
        Message.objects.filter(conversation_id=conversation_id).select_related("author").order_by("-seq")[:limit]
    )
    latest.reverse()
    return latest


def inbox_notes(*, conversation_id: int) -> list[InternalNote]:
    return list(InternalNote.objects.filter(conversation_id=conversation_id).select_related("author"))


def last_message_previews(*, conversation_ids: list[int]) -> dict[int, Message]:
    previews = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .select_related("author")
        .order_by("conversation_id", "-seq")
        .distinct("conversation_id")
    )
    return {message.conversation_id: message for message in previews}


def customer_history(*, conversation: Conversation, agent: Any, limit: int = 5) -> list[Conversation]:
    return list(
        visible_conversations(agent=agent)
        .filter(customer_id=conversation.customer_id)
        .exclude(pk=conversation.pk)
        .order_by("-created_at")[:limit]
    )


def canned_responses() -> list[dict[str, str]]:
    return [{"shortcut": c.shortcut, "title": c.title, "text": c.text} for c in CannedResponse.objects.all()]
