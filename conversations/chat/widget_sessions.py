"""Opening or resuming the widget's conversation (POST /api/widget/conversations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.chat.conversations import conversation_open, conversation_widget_language_set
from conversations.core.protocol import UNSTORABLE
from conversations.lib.identity import identity_signature_verify
from conversations.lib.tokens import (
    conversation_token_issue,
    conversation_token_verify,
)
from conversations.models import Conversation, Customer, WidgetSite
from guardrails.limits import conversation_open_limit_check
from supportbot.errors import CodedError


class WidgetAccessError(CodedError):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.status = status


@dataclass(frozen=True)
class SignedUser:
    id: str
    signature: str
    expires: int | None = None  # unix seconds; None is the legacy signature over the id alone


@dataclass(frozen=True)
class WidgetSession:
    conversation: Conversation
    token: str
    resumed: bool


def widget_site_for_origin(*, site_key: str, origin: str | None) -> WidgetSite:
    # A key Postgres cannot even compare (NUL, unpaired surrogate) names no site.
    site = None if UNSTORABLE.search(site_key) else WidgetSite.objects.filter(key=site_key).first()
    if site is None:
        raise WidgetAccessError("unknown_site", "no widget site has this key", 404)
    if not site.allows_origin(origin):
        raise WidgetAccessError("forbidden_origin", "this origin is not allowed for the site", 403)
    return site


def parse_signed_user(raw: Any) -> SignedUser | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WidgetAccessError("bad_request", "user must be an object", 400)
    user_id, signature = raw.get("id"), raw.get("signature")
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255 or UNSTORABLE.search(user_id):
        raise WidgetAccessError("bad_request", "user.id must be a non-empty string of at most 255 characters", 400)
    if not isinstance(signature, str) or not signature:
        raise WidgetAccessError("bad_request", "user.signature is required with user.id", 400)
    expires = raw.get("expires")
    # bool is a subclass of int: a JSON true is not a time.
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool) or expires < 0):
        raise WidgetAccessError("bad_request", "user.expires must be a unix time in seconds", 400)
    return SignedUser(id=user_id, signature=signature, expires=expires)


def widget_session_open(
    *,
    site_key: str,
    origin: str | None,
    conversation_id: str | None = None,
    token: str | None = None,
    user: SignedUser | None = None,
    client_ip: str | None = None,
    language: str | None = None,
) -> WidgetSession:
    """Resume the conversation the token proves access to, or a signed-in customer's open
    conversation, or open a new one.

    A token for another site, an expired token or a conversation that belongs to a different
    (or no longer signed-in) user silently starts a new conversation: the caller learns nothing
    about conversations it cannot prove access to. `language`: the widget's (a supported code).
    """
    site = widget_site_for_origin(site_key=site_key, origin=origin)
    customer = _verified_customer(site, user) if user is not None else None

    existing = _conversation_from_token(site, conversation_id, token)
    if existing is not None:
        owner = existing.customer
        # The token is bound to the customer it was issued for (checked in _conversation_from_token);
        # the identity presented now must be that customer too, or anonymous for an anonymous one.
        same_person = (customer is None and owner.external_id is None) or (
            customer is not None and owner.pk == customer.pk
        )
        if same_person:
            return _resumed(site, existing, language)

    if customer is not None:
        # A signed-in customer on another device or in a new browser carries on where they were:
        # an open conversation (perhaps waiting for an agent) is theirs wherever they sign in.
        ongoing = (
            Conversation.objects.select_related("customer")
            .filter(site=site, customer=customer)
            .exclude(status=Conversation.Status.RESOLVED)
            .order_by("-created_at")
            .first()
        )
        if ongoing is not None:
            return _resumed(site, ongoing, language)

    # The HTTP view always passes the request's address and refuses an unknown one before this;
    # in-process callers (commands, tests) open without a client address.
    exceeded = conversation_open_limit_check(client_ip=client_ip) if client_ip is not None else None
    if exceeded is not None:
        raise WidgetAccessError(exceeded.code, exceeded.message, 429)
    with transaction.atomic():
        if customer is None:
            customer = Customer.objects.create(site=site)
        conversation = conversation_open(site=site, customer=customer, language=language)
    return WidgetSession(
        conversation=conversation, token=conversation_token_for(conversation=conversation), resumed=False
    )


def conversation_token_for(*, conversation: Conversation) -> str:
    """A fresh token for the conversation, bound to its site and customer."""
    return conversation_token_issue(
        conversation_id=conversation.public_id,
        site_key=conversation.site.key,
        customer_key=conversation.customer.anonymous_id,
    )


def _resumed(site: WidgetSite, conversation: Conversation, language: str | None) -> WidgetSession:
    Customer.objects.filter(pk=conversation.customer_id).update(last_seen_at=timezone.now())
    if language and language != conversation.widget_language:
        conversation_widget_language_set(conversation=conversation, language=language)
    return WidgetSession(
        conversation=conversation, token=conversation_token_for(conversation=conversation), resumed=True
    )


def _verified_customer(site: WidgetSite, user: SignedUser) -> Customer:
    if not identity_signature_verify(site=site, user_id=user.id, signature=user.signature, expires=user.expires):
        raise WidgetAccessError(
            "unauthorized", "user.signature does not match user.id and user.expires, or it has expired", 401
        )
    try:
        customer, _ = Customer.objects.get_or_create(site=site, external_id=user.id)
    except IntegrityError:  # two tabs identifying the same user at once
        customer = Customer.objects.get(site=site, external_id=user.id)
    return customer


def _conversation_from_token(site: WidgetSite, conversation_id: str | None, token: str | None) -> Conversation | None:
    if not conversation_id or not token:
        return None
    try:
        public_id = UUID(str(conversation_id))
    except ValueError:
        return None
    claims = conversation_token_verify(token, conversation_id=public_id)
    if claims is None or claims.site_key != site.key:
        return None
    return (
        Conversation.objects.select_related("customer", "site")
        .filter(public_id=public_id, site=site, customer__anonymous_id=claims.customer_key)
        .first()
    )
