"""Demo data for `make run`: a site for the demo host page and an agent to log in with.

Idempotent: running it again keeps what exists and only adds what is missing (for example the
origins of a new PORT).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from conversations.models import WidgetSite
from conversations.services.agents import SUPPORT_AGENTS_GROUP

DEMO_AGENT_USERNAME = "agent"
DEMO_ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class DemoData:
    site_key: str
    agent_username: str
    admin_username: str
    password: str
    created_agent: bool


def support_agents_group_ensure() -> Group:
    """The agents' group carries no model permissions: the inbox checks group membership and
    the conversation's queue in code, so membership alone must not open the admin (widget
    sites' secrets, other queues' conversations). Earlier versions granted every
    `conversations.view_*`; those grants are taken back here. Admin rights go through a group
    of their own."""
    group, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS_GROUP)
    group.permissions.remove(
        *Permission.objects.filter(content_type__app_label="conversations", codename__startswith="view_")
    )
    return group


@transaction.atomic
def demo_data_ensure(*, origins: list[str]) -> DemoData:
    site, _ = WidgetSite.objects.get_or_create(
        key=settings.DEMO_SITE_KEY, defaults={"name": "Acme Outfitters", "allowed_origins": origins}
    )
    missing = [origin for origin in origins if origin not in site.allowed_origins]
    if missing:
        site.allowed_origins = [*site.allowed_origins, *missing]
        site.save(update_fields=["allowed_origins"])

    group = support_agents_group_ensure()
    users = get_user_model()
    agent, created_agent = users.objects.get_or_create(
        username=DEMO_AGENT_USERNAME, defaults={"first_name": "Sam", "is_staff": True}
    )
    if created_agent:
        agent.set_password(settings.DEMO_AGENT_PASSWORD)
        agent.save()
    agent.groups.add(group)

    admin, created_admin = users.objects.get_or_create(
        username=DEMO_ADMIN_USERNAME, defaults={"first_name": "Alex", "is_staff": True, "is_superuser": True}
    )
    if created_admin:
        admin.set_password(settings.DEMO_AGENT_PASSWORD)
        admin.save()
    admin.groups.add(group)
    _demo_handoff_setup(agents=[agent, admin])
    return DemoData(
        site_key=site.key,
        agent_username=agent.username,
        admin_username=admin.username,
        password=settings.DEMO_AGENT_PASSWORD,
        created_agent=created_agent,
    )


DEMO_CANNED_RESPONSES = [
    ("hello", "Greeting", "Hi, thanks for waiting! I'm looking into this for you now."),
    ("refund-time", "Refund timing", "Refunds reach your original payment method within 5 business days of the "
                                     "return being processed."),
    ("anything-else", "Anything else?", "Is there anything else I can help you with today?"),
    ("bye", "Closing", "Thanks for reaching out. Have a great day!"),
]


def _demo_handoff_setup(*, agents: list) -> None:
    """A General queue (the default) and a Billing queue, both served by the demo team, and a
    few saved replies. Only created when missing, so an edited setup is kept."""
    from conversations.handoff.models import AgentProfile, CannedResponse, Queue, Team

    team, _ = Team.objects.get_or_create(name="Support team")
    team.members.add(*agents)
    general, _ = Queue.objects.get_or_create(name="General", defaults={"is_default": True})
    billing, _ = Queue.objects.get_or_create(name="Billing", defaults={
        "keywords": ["refund", "charged", "invoice", "payment", "billing"], "reasons": ["tool_failure"],
        "sla_minutes": 3, "escalate_minutes": 10,
    })
    for queue in (general, billing):
        queue.teams.add(team)
    for user in agents:
        AgentProfile.objects.get_or_create(user=user)
    for shortcut, title, text in DEMO_CANNED_RESPONSES:
        CannedResponse.objects.get_or_create(shortcut=shortcut, defaults={"title": title, "text": text})
