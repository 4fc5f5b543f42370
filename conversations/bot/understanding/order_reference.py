"""Which of the customer's orders a message means when it gives no number: "cancel my pending
order", "the one that shipped", "return my latest order".

The offline responder lists the customer's orders and picks the one a request can apply to; when
several fit, the description narrows them, and an answer to "Which order is it about?" such as
"the pending one" is taken as the answer it is. Read from the status words the commerce API uses
and a few words of recency, next to "order"/"one": a status word alone ("my order hasn't
arrived") is not a description of which order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The requests that act on one order: without a number, the customer's orders are listed to pick from.
NEEDS_ORDER = frozenset({"get_order", "cancel_order", "return_order", "change_order_address"})

_ORDER_NOUN = r"(order|one|package|parcel|purchase|shipment)"
# The commerce API's statuses (conversations/core/commerce.py) and the forms customers type.
_STATUS_FORMS = {
    "pending": r"pending",
    "processed": r"process(ed|ing)",
    "shipped": r"shipped",
    "delivered": r"delivered",
}
_STATUS_PATTERNS = {
    status: re.compile(
        rf"\b{form}\s+{_ORDER_NOUN}\b|"  # "my pending order", "the shipped one"
        rf"\b{_ORDER_NOUN}\s+(that|which)?\s*(is|was|has been|got|'s)?\s*(still\s+|already\s+)?{form}\b",
        re.IGNORECASE,
    )
    for status, form in _STATUS_FORMS.items()
}
_LATEST = re.compile(rf"\b(latest|last|most recent|newest|recent|new)\s+{_ORDER_NOUN}\b", re.IGNORECASE)
_OLDEST = re.compile(rf"\b(oldest|earliest|older)\s+{_ORDER_NOUN}\b", re.IGNORECASE)


@dataclass(frozen=True)
class OrderDescription:
    statuses: tuple[str, ...] = ()
    recency: str = ""  # "latest", "oldest" or ""

    def __bool__(self) -> bool:
        return bool(self.statuses or self.recency)

    def as_state(self) -> dict[str, Any]:
        """The JSON kept in the conversation's bot state between turns (no customer data)."""
        return {"statuses": list(self.statuses), "recency": self.recency}

    @classmethod
    def from_state(cls, value: object) -> OrderDescription:
        if not isinstance(value, dict):
            return cls()
        statuses = tuple(s for s in value.get("statuses", ()) if s in _STATUS_FORMS)
        recency = str(value.get("recency")) if value.get("recency") in ("latest", "oldest") else ""
        return cls(statuses, recency)


def order_description_in(text: str) -> OrderDescription:
    statuses = tuple(status for status, pattern in _STATUS_PATTERNS.items() if pattern.search(text))
    recency = "latest" if _LATEST.search(text) else "oldest" if _OLDEST.search(text) else ""
    return OrderDescription(statuses, recency)


def orders_described(*, orders: list[dict[str, Any]], description: OrderDescription) -> list[dict[str, Any]]:
    """The orders the description names, or all of them when it names none of them (a
    description that matches nothing is no reason to forget the others)."""
    described = [o for o in orders if not description.statuses or o.get("status") in description.statuses]
    if described and description.recency:
        placed = sorted(described, key=lambda o: str(o.get("placed_at", "")))
        described = [placed[-1] if description.recency == "latest" else placed[0]]
    return described or orders
