"""Who may see and work which conversations. Checked in selectors and services, never only in
templates: an agent outside a queue's teams gets a 404 for its conversations, not a hidden link.

- Supervisors (superusers or the "Support supervisors" group) see everything.
- Agents see conversations that are in none of the queues (the bot's, or before routing), those
  in a queue one of their teams serves, and any assigned to them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from conversations.core.people import user_is_agent
from conversations.models import Queue

SUPERVISORS_GROUP = "Support supervisors"


def user_is_supervisor(user: Any) -> bool:
    if not user_is_agent(user):
        return False
    return user.is_superuser or user.groups.filter(name=SUPERVISORS_GROUP).exists()


def agent_queue_ids(agent: Any) -> list[int]:
    return list(Queue.objects.filter(teams__members=agent).values_list("id", flat=True).distinct())


def conversations_visible_q(agent: Any, *, prefix: str = "") -> Q:
    if user_is_supervisor(agent):
        return Q()
    return (
        Q(**{f"{prefix}queue__isnull": True})
        | Q(**{f"{prefix}queue_id__in": agent_queue_ids(agent)})
        | Q(**{f"{prefix}assignee": agent})
    )


def queue_agents_q(queue: Queue | None) -> Q:
    """Users who serve a queue (every agent when there is no queue)."""
    if queue is None:
        return Q()
    return Q(support_teams__queues=queue)


def agent_can_serve(agent: Any, queue: Queue | None) -> bool:
    if not user_is_agent(agent):
        return False
    return queue is None or user_is_supervisor(agent) or queue.teams.filter(members=agent).exists()
