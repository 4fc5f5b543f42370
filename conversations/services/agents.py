"""Who counts as a support agent: staff users in the "Support agents" group (or superusers)."""

from __future__ import annotations

from typing import Any

SUPPORT_AGENTS_GROUP = "Support agents"


def user_is_agent(user: Any) -> bool:
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    return user.is_superuser or user.groups.filter(name=SUPPORT_AGENTS_GROUP).exists()


class NotAnAgent(PermissionError):
    """Raised when someone who is not a support agent tries an agent-only action."""


def agent_check(user: Any) -> None:
    if not user_is_agent(user):
        raise NotAnAgent("only support agents may do this")
