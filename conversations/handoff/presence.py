"""Agent presence writes: what the agent chose (online/away/offline) and the inbox tab's heartbeat
(the reads are in conversations/handoff/presence_selectors.py).

Liveness is a heartbeat timestamp, not a socket counter: a counter is left wrong by a process
that dies with sockets open, a timestamp simply goes stale.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.handoff.presence_selectors import presence_timeout
from conversations.handoff.tasks import handoff_assign_waiting
from conversations.models import AgentProfile


def agent_profile(user: Any) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    return profile


def agent_presence_set(*, agent: Any, presence: str) -> AgentProfile:
    if presence not in AgentProfile.Presence.values:
        raise ValueError(f"presence must be one of {', '.join(AgentProfile.Presence.values)}")
    profile = agent_profile(agent)
    AgentProfile.objects.filter(pk=profile.pk).update(presence=presence)
    profile.presence = presence
    if presence == AgentProfile.Presence.ONLINE:
        _assign_waiting_soon()
    return profile


def _assign_waiting_soon() -> None:
    """An agent became reachable: waiting customers may now be assigned to them."""
    transaction.on_commit(handoff_assign_waiting.delay)


def agent_heartbeat(*, agent: Any) -> bool:
    """Mark an inbox tab alive. Returns True when the agent just became reachable (was stale)."""
    now = timezone.now()
    profile = agent_profile(agent)
    was_live = profile.socket_seen_at is not None and profile.socket_seen_at > now - presence_timeout()
    AgentProfile.objects.filter(pk=profile.pk).update(socket_seen_at=now)
    if not was_live and profile.presence == AgentProfile.Presence.ONLINE:
        _assign_waiting_soon()
    return not was_live
