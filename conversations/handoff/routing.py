"""Which queue a handoff goes to: the queue whose configured reasons, knowledge categories and
keywords best match the conversation; the default queue otherwise. Scored, not first-match, so a
billing keyword in a message about a failed refund still lands with the team for the reason."""

from __future__ import annotations

from django.db import connection

from conversations.models import MESSAGE_SEARCH_CONFIG, Message, Queue
from knowledge.models import Article

RECENT_MESSAGES = 20


def queue_choose(*, conversation_id: int, reason: str) -> Queue | None:
    queues = list(Queue.objects.all())
    if not queues:
        return None
    recent = list(
        Message.objects.filter(conversation_id=conversation_id, role__in=["customer", "bot"]).order_by("-seq")[
            :RECENT_MESSAGES
        ]
    )
    customer_text = " ".join(m.text.lower() for m in recent if m.role == "customer")
    cited_titles = {c["title"] for m in recent if m.role == "bot" for c in m.extras.get("citations", [])}
    categories = (
        set(Article.objects.filter(title__in=cited_titles).exclude(category="").values_list("category", flat=True))
        if cited_titles
        else set()
    )
    categories = {c.lower() for c in categories}

    keywords = {queue.pk: {word.strip().lower() for word in queue.keywords} for queue in queues}
    found = keywords_found(text=customer_text, keywords=set().union(*keywords.values()))

    def score(queue: Queue) -> int:
        points = 3 * (reason in queue.reasons)
        points += 2 * len(categories & {c.lower() for c in queue.categories})
        points += len(found & keywords[queue.pk])
        return points

    best = max(queues, key=lambda q: (score(q), q.is_default))
    if score(best) > 0:
        return best
    return next((q for q in queues if q.is_default), None)


def keywords_found(*, text: str, keywords: set[str]) -> set[str]:
    """The keywords (or phrases) the text contains, compared by English stems with the same
    Postgres configuration as the inbox search: "refunds" finds "refund", "charge" finds
    "charged". Whole-word regexes missed every plural."""
    keywords = {word for word in keywords if word}
    if not keywords or not text.strip():
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k FROM unnest(%s::text[]) AS k "
            "WHERE to_tsvector(%s::regconfig, %s) @@ phraseto_tsquery(%s::regconfig, k)",
            [sorted(keywords), MESSAGE_SEARCH_CONFIG, text, MESSAGE_SEARCH_CONFIG],
        )
        return {row[0] for row in cursor.fetchall()}
