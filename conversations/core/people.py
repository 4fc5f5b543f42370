"""Who counts as a support agent: active staff users in the "Support agents" group, or superusers.
The one definition, as a check on one user and as a queryset of all of them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

SUPPORT_AGENTS_GROUP = "Support agents"


def user_is_agent(user: Any) -> bool:
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    return user.is_superuser or user.groups.filter(name=SUPPORT_AGENTS_GROUP).exists()


def support_agents() -> QuerySet:
    """Every user `user_is_agent` accepts (distinct: a superuser may also be in the group)."""
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(groups__name=SUPPORT_AGENTS_GROUP))
        .distinct()
    )


class NotAnAgent(PermissionError):
    """Raised when someone who is not a support agent tries an agent-only action."""


def agent_check(user: Any) -> None:
    if not user_is_agent(user):
        raise NotAnAgent("only support agents may do this")


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
