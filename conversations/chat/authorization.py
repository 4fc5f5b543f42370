"""What the bot may reach for a conversation's customer, read fresh for every tool call.

A customer signed in on the host site (a signed identity) reaches all their orders and their
account. A visitor who verified with an order number and email reaches that one order, until
`verified_until`: the verification proved nothing more. Resolving the conversation clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from conversations.models import Conversation


@dataclass(frozen=True)
class Authorization:
    site_id: int | None
    customer_id: str | None  # the commerce API's customer id; None: not verified
    order_number: str | None  # set: only this order (an order number + email verification)

    @property
    def signed_in(self) -> bool:
        return self.customer_id is not None and self.order_number is None


NOBODY = Authorization(site_id=None, customer_id=None, order_number=None)


def conversation_authorization(*, conversation_id: int, now: datetime | None = None) -> Authorization:
    row = (
        Conversation.objects.filter(pk=conversation_id)
        .values("site_id", "customer__external_id", "verified_customer_id", "verified_order_number", "verified_until")
        .first()
    )
    if row is None:
        return NOBODY
    if row["customer__external_id"]:
        return Authorization(site_id=row["site_id"], customer_id=row["customer__external_id"], order_number=None)
    now = now or timezone.now()
    if (
        row["verified_customer_id"]
        and row["verified_order_number"]
        and row["verified_until"]
        and row["verified_until"] > now
    ):
        return Authorization(
            site_id=row["site_id"], customer_id=row["verified_customer_id"], order_number=row["verified_order_number"]
        )
    return Authorization(site_id=row["site_id"], customer_id=None, order_number=None)


def conversation_verification_record(*, conversation_id: int, customer_id: str, order_number: str) -> datetime:
    """A verification succeeded: it unlocks `order_number` for VERIFY_TTL_MINUTES. A later
    verification (another order) replaces it."""
    until = timezone.now() + timedelta(minutes=settings.VERIFY_TTL_MINUTES)
    Conversation.objects.filter(pk=conversation_id).update(
        verified_customer_id=customer_id, verified_order_number=order_number, verified_until=until
    )
    return until
