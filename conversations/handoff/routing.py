"""Which queue a handoff goes to: the queue whose configured reasons, knowledge categories and
keywords best match the conversation; the default queue otherwise. Scored, not first-match, so a
billing keyword in a message about a failed refund still lands with the team for the reason."""

from __future__ import annotations

import re

from conversations.handoff.models import Queue
from conversations.models import Message
from knowledge.models import Article

RECENT_MESSAGES = 20


def queue_choose(*, conversation_id: int, reason: str) -> Queue | None:
    queues = list(Queue.objects.all())
    if not queues:
        return None
    recent = list(Message.objects.filter(conversation_id=conversation_id, role__in=["customer", "bot"])
                  .order_by("-seq")[:RECENT_MESSAGES])
    customer_text = " ".join(m.text.lower() for m in recent if m.role == "customer")
    cited_titles = {c["title"] for m in recent if m.role == "bot" for c in m.extras.get("citations", [])}
    categories = set(Article.objects.filter(title__in=cited_titles).exclude(category="")
                     .values_list("category", flat=True)) if cited_titles else set()
    categories = {c.lower() for c in categories}

    def score(queue: Queue) -> int:
        points = 3 * (reason in queue.reasons)
        points += 2 * len(categories & {c.lower() for c in queue.categories})
        points += sum(1 for word in queue.keywords if word.strip() and re.search(
            r"\b" + re.escape(word.strip().lower()) + r"\b", customer_text))
        return points

    best = max(queues, key=lambda q: (score(q), q.is_default))
    if score(best) > 0:
        return best
    return next((q for q in queues if q.is_default), None)
