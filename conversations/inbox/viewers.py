"""Who has a conversation open in the workspace, for the "Bob is also viewing" warning.

One cache entry (Redis) per agent and conversation, holding the agent's name and expiring
unless the tab's heartbeat renews it. Each tab writes only its own entry, so two agents opening
the same conversation at once cannot overwrite each other. The readers look up the entries of
the agents whose inbox is open (their presence heartbeat is fresh) in one MGET.
"""

from __future__ import annotations

from django.core.cache import cache

from conversations.handoff.presence_selectors import live_q
from conversations.models import AgentProfile

VIEWER_HEARTBEAT_SECONDS = 20
VIEWER_TTL_SECONDS = 50


def _key(public_id: object, agent_id: int) -> str:
    return f"inbox:viewer:{public_id}:{agent_id}"


def viewer_seen(*, public_id: object, agent_id: int, name: str) -> None:
    cache.set(_key(public_id, agent_id), name, timeout=VIEWER_TTL_SECONDS)


def viewer_left(*, public_id: object, agent_id: int) -> None:
    cache.delete(_key(public_id, agent_id))


def other_viewers(*, public_id: object, agent_id: int) -> list[str]:
    # Only an agent with an open inbox tab can be viewing: their heartbeat keeps them live.
    others = AgentProfile.objects.filter(live_q()).exclude(user_id=agent_id).values_list("user_id", flat=True)
    names = cache.get_many([_key(public_id, other) for other in others])
    return sorted(names.values())
