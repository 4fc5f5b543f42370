"""Presence reads: who is reachable now. An agent is online when they chose "online" and an inbox
tab of theirs sent a heartbeat within HANDOFF_PRESENCE_TIMEOUT_SECONDS (the writes are in
conversations/handoff/presence.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from conversations.core.people import support_agents
from conversations.models import AgentProfile


def presence_timeout() -> timedelta:
    return timedelta(seconds=settings.HANDOFF_PRESENCE_TIMEOUT_SECONDS)


def live_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}socket_seen_at__gt": timezone.now() - presence_timeout()})


def effective_presence(profile: AgentProfile | None) -> str:
    if profile is None:
        return AgentProfile.Presence.OFFLINE
    live = profile.socket_seen_at is not None and profile.socket_seen_at > timezone.now() - presence_timeout()
    return profile.presence if live else AgentProfile.Presence.OFFLINE


def agents_online(extra: Q | None = None) -> QuerySet:
    """Agents who chose online and have an inbox open."""
    users = (
        support_agents().filter(agent_profile__presence=AgentProfile.Presence.ONLINE).filter(live_q("agent_profile__"))
    )
    if extra is not None:
        users = users.filter(extra)
    return users
