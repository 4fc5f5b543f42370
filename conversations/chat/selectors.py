"""Reads: socket access checks, replay, the widget's public config and the inbox's lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from conversations.lib.tokens import conversation_token_verify
from conversations.models import Conversation, Message, WidgetSite


@dataclass(frozen=True)
class ChatAccess:
    conversation_id: int
    public_id: UUID
    status: str
    site_key: str
    customer_key: UUID


@dataclass(frozen=True)
class ChatDenied:
    reason: Literal["unauthorized", "forbidden_origin"]


def chat_access_resolve(*, public_id: UUID, token: str | None, origin: str | None) -> ChatAccess | ChatDenied:
    """May this socket attach to this conversation? The token is checked before any query, and a
    valid token for a deleted conversation, or for a customer the conversation no longer belongs
    to, is refused exactly like a bad token."""
    claims = conversation_token_verify(token, conversation_id=public_id)
    if claims is None:
        return ChatDenied("unauthorized")
    conversation = (
        Conversation.objects.select_related("site", "customer")
        .only("id", "public_id", "status", "site__key", "site__allowed_origins", "customer__anonymous_id")
        .filter(public_id=public_id)
        .first()
    )
    if (
        conversation is None
        or conversation.site.key != claims.site_key
        or conversation.customer.anonymous_id != claims.customer_key
    ):
        return ChatDenied("unauthorized")
    if not conversation.site.allows_origin(origin):
        return ChatDenied("forbidden_origin")
    return ChatAccess(
        conversation_id=conversation.pk,
        public_id=conversation.public_id,
        status=conversation.status,
        site_key=conversation.site.key,
        customer_key=conversation.customer.anonymous_id,
    )


def messages_after(*, conversation_id: int, after_seq: int, limit: int) -> list[Message]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
        .select_related("author")
        .order_by("seq")[:limit]
    )


def conversation_with_assignee(*, conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("assignee").get(pk=conversation_id)


def widget_site_public_config(*, site: WidgetSite) -> dict[str, Any]:
    """What the widget may show before a conversation exists. Never includes the identity secret."""
    return {
        "name": site.name,
        "accent_color": site.accent_color,
        "launcher_position": site.launcher_position,
        "greeting": site.greeting,
    }


def widget_origin_allowed_by_any_site(*, origin: str | None) -> bool:
    if not origin:
        return False
    return WidgetSite.objects.filter(allowed_origins__contains=[origin.rstrip("/")]).exists()
