"""Agent presence: what the agent chose (online/away/offline) and whether an inbox tab is open.

Liveness is a heartbeat timestamp, not a socket counter: a counter is left wrong by a process
that dies with sockets open, a timestamp simply goes stale.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from conversations import events
from conversations.handoff.models import AgentProfile
from conversations.services.agents import SUPPORT_AGENTS_GROUP


def agent_profile(user: Any) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    return profile


def agent_presence_set(*, agent: Any, presence: str) -> AgentProfile:
    if presence not in AgentProfile.Presence.values:
        raise ValueError(f"presence must be one of {', '.join(AgentProfile.Presence.values)}")
    profile = agent_profile(agent)
    AgentProfile.objects.filter(pk=profile.pk).update(presence=presence)
    profile.presence = presence
    events.publish_team_changed()
    if presence == AgentProfile.Presence.ONLINE:
        _assign_waiting_soon()
    return profile


def _assign_waiting_soon() -> None:
    """An agent became reachable: waiting customers may now be assigned to them."""
    from conversations.handoff.tasks import handoff_assign_waiting

    transaction.on_commit(handoff_assign_waiting.delay)


def agent_heartbeat(*, agent: Any) -> bool:
    """Mark an inbox tab alive. Returns True when the agent just became reachable (was stale)."""
    now = timezone.now()
    profile = agent_profile(agent)
    was_live = profile.socket_seen_at is not None and profile.socket_seen_at > now - _timeout()
    AgentProfile.objects.filter(pk=profile.pk).update(socket_seen_at=now)
    if not was_live and profile.presence == AgentProfile.Presence.ONLINE:
        _assign_waiting_soon()
    return not was_live


def _timeout() -> timedelta:
    return timedelta(seconds=settings.HANDOFF_PRESENCE_TIMEOUT_SECONDS)


def live_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}socket_seen_at__gt": timezone.now() - _timeout()})


def effective_presence(profile: AgentProfile | None) -> str:
    if profile is None:
        return AgentProfile.Presence.OFFLINE
    live = profile.socket_seen_at is not None and profile.socket_seen_at > timezone.now() - _timeout()
    return profile.presence if live else AgentProfile.Presence.OFFLINE


def agents_online(extra: Q | None = None) -> QuerySet:
    """Agents who chose online and have an inbox open."""
    users = get_user_model().objects.filter(
        is_active=True, is_staff=True, agent_profile__presence=AgentProfile.Presence.ONLINE
    ).filter(live_q("agent_profile__")).filter(Q(is_superuser=True) | Q(groups__name=SUPPORT_AGENTS_GROUP))
    if extra is not None:
        users = users.filter(extra)
    return users.distinct()
