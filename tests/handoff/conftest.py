"""Handoff fixtures: a Billing queue served by Alice's team, a General default queue served by
Bob's, and a way to put an agent online (presence chosen + an inbox tab seen just now)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from conversations.handoff.access import SUPERVISORS_GROUP
from conversations.models import AgentProfile, Queue, Team
from demoshop.demo_accounts import support_agents_group_ensure
from tests.conftest import PASSWORD


def online(user, *, capacity: int = 3, presence: str = "online") -> AgentProfile:
    profile, _ = AgentProfile.objects.update_or_create(
        user=user, defaults={"presence": presence, "capacity": capacity, "socket_seen_at": timezone.now()}
    )
    return profile


@pytest.fixture
def billing(db, alice):
    team = Team.objects.create(name="Billing team")
    team.members.add(alice)
    queue = Queue.objects.create(name="Billing", keywords=["refund", "invoice", "charged"], reasons=["tool_failure"])
    queue.teams.add(team)
    return queue


@pytest.fixture
def general(db, bob):
    team = Team.objects.create(name="Front line")
    team.members.add(bob)
    queue = Queue.objects.create(name="General", is_default=True)
    queue.teams.add(team)
    return queue


@pytest.fixture
def dana(db):
    """Dana supervises: she sees every queue and gets escalations."""
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username="dana", password=PASSWORD, first_name="Dana", is_staff=True, email="dana@support.test"
    )
    user.groups.add(support_agents_group_ensure(), Group.objects.get_or_create(name=SUPERVISORS_GROUP)[0])
    return user
