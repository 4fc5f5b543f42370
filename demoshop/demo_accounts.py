"""Demo data for `make run`: a site for the demo host page and an agent to log in with.

Idempotent: running it again keeps what exists and only adds what is missing (for example the
origins of a new PORT).

The demo logins share one random password, generated once into settings.DEMO_PASSWORD_FILE
(mode 0600) and shown when it is created. The accounts are marked by membership of the "Demo
accounts" group, so turning demo mode off disables exactly them, never a real user who happens
to be called `admin`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from conversations.core.people import support_agents_group_ensure
from conversations.models import WidgetSite
from supportbot.settings.security import private_file_ensure

DEMO_AGENT_USERNAME = "agent"
DEMO_ADMIN_USERNAME = "admin"
DEMO_ACCOUNTS_GROUP = "Demo accounts"
# The password every earlier version gave the demo logins, published in its README: an account
# still using it is a demo account from before the random password, and gets the new one.
PUBLISHED_DEMO_PASSWORD = "supportbot-demo"


@dataclass(frozen=True)
class DemoPassword:
    value: str
    path: Path
    created: bool


@dataclass(frozen=True)
class DemoData:
    site_key: str
    agent_username: str
    admin_username: str
    password: DemoPassword
    created_agent: bool


def demo_password_ensure() -> DemoPassword:
    path = Path(settings.DEMO_PASSWORD_FILE)
    secret = private_file_ensure(path=path, generate=lambda: secrets.token_urlsafe(12))
    return DemoPassword(value=secret.value, path=path, created=secret.created)


def demo_accounts_disable() -> list[str]:
    """Demo mode is off: the demo logins stop working (is_active False). Returns their names."""
    users = get_user_model().objects.filter(groups__name=DEMO_ACCOUNTS_GROUP, is_active=True)
    names = sorted(users.values_list("username", flat=True))
    get_user_model().objects.filter(username__in=names).update(is_active=False)
    return names


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
    password = demo_password_ensure()
    agent, created_agent = _demo_account_ensure(
        username=DEMO_AGENT_USERNAME, password=password, defaults={"first_name": "Sam", "is_staff": True}
    )
    agent.groups.add(group)
    admin, _ = _demo_account_ensure(
        username=DEMO_ADMIN_USERNAME,
        password=password,
        defaults={"first_name": "Alex", "is_staff": True, "is_superuser": True},
    )
    admin.groups.add(group)
    _demo_handoff_setup(agents=[agent, admin])
    return DemoData(
        site_key=site.key,
        agent_username=agent.username,
        admin_username=admin.username,
        password=password,
        created_agent=created_agent,
    )


def _demo_account_ensure(*, username: str, password: DemoPassword, defaults: dict[str, Any]) -> tuple[Any, bool]:
    """Create the demo login, or adopt one an earlier version created (it still has the published
    password). A new password file (deleted to get a new password) resets the demo logins too.
    A user of that name that is neither is a real account: its password is left alone."""
    demo_accounts, _ = Group.objects.get_or_create(name=DEMO_ACCOUNTS_GROUP)
    user, created = get_user_model().objects.get_or_create(username=username, defaults=defaults)
    is_demo = user.groups.filter(pk=demo_accounts.pk).exists()
    if created or (is_demo and password.created) or (not is_demo and user.check_password(PUBLISHED_DEMO_PASSWORD)):
        user.set_password(password.value)
        user.is_active = True
        user.save()
        user.groups.add(demo_accounts)
    elif is_demo and not user.is_active:
        user.is_active = True  # demo mode is on again
        user.save(update_fields=["is_active"])
    return user, created


DEMO_CANNED_RESPONSES = [
    ("hello", "Greeting", "Hi, thanks for waiting! I'm looking into this for you now."),
    (
        "refund-time",
        "Refund timing",
        "Refunds reach your original payment method within 5 business days of the return being processed.",
    ),
    ("anything-else", "Anything else?", "Is there anything else I can help you with today?"),
    ("bye", "Closing", "Thanks for reaching out. Have a great day!"),
]


def _demo_handoff_setup(*, agents: list) -> None:
    """A General queue (the default) and a Billing queue, both served by the demo team, and a
    few saved replies. Only created when missing, so an edited setup is kept."""
    from conversations.models import AgentProfile, CannedResponse, Queue, Team

    team, _ = Team.objects.get_or_create(name="Support team")
    team.members.add(*agents)
    general, _ = Queue.objects.get_or_create(name="General", defaults={"is_default": True})
    billing, _ = Queue.objects.get_or_create(
        name="Billing",
        defaults={
            "keywords": ["refund", "charged", "invoice", "payment", "billing"],
            "reasons": ["tool_failure"],
            "sla_minutes": 3,
            "escalate_minutes": 10,
        },
    )
    for queue in (general, billing):
        queue.teams.add(team)
    for user in agents:
        AgentProfile.objects.get_or_create(user=user)
    for shortcut, title, text in DEMO_CANNED_RESPONSES:
        CannedResponse.objects.get_or_create(shortcut=shortcut, defaults={"title": title, "text": text})
