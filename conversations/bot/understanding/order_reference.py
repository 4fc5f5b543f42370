"""Which of the customer's orders a message means when it gives no number: "cancel my pending
order", "the one that shipped", "return my latest order".

The offline responder lists the customer's orders and picks the one a request can apply to; the
description narrows them, and an answer to "Which order is it about?" such as "the pending one"
is taken as the answer it is. Read from the status words the commerce API uses and a few words of
recency, next to "order"/"one": a status word alone ("my order hasn't arrived") is not a
description of which order, and neither is a negated one ("not the pending one").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

# The requests that act on one order: without a number, the customer's orders are listed to pick from.
NEEDS_ORDER = frozenset({"get_order", "cancel_order", "return_order", "change_order_address"})

Recency = Literal["latest", "oldest", ""]

_ORDER_NOUN = r"(order|one|package|parcel|purchase|shipment)"
# Phones type a curly apostrophe.
_IS = r"(is|was|has been|have been|has|is being|got|['’]s)"
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
        rf"\b{_ORDER_NOUN}\s*(that|which)?\s*{_IS}\s*(still\s+|already\s+|just\s+)?{form}\b",
        re.IGNORECASE,
    )
    for status, form in _STATUS_FORMS.items()
}
_NEGATED = {
    status: re.compile(
        rf"\b(not|isn['’]t|wasn['’]t|hasn['’]t|haven['’]t|never)\s+(been\s+|yet\s+)?(the\s+|my\s+|an?\s+)?{form}\b",
        re.IGNORECASE,
    )
    for status, form in _STATUS_FORMS.items()
}
# "my latest order", "the most recent one"; not "a new one" (a replacement) nor "the last one"
# (the bottom line of the list the bot showed, which is the oldest).
_LATEST = re.compile(
    rf"\b(my|the)\s+(latest|most recent|newest)\s+{_ORDER_NOUN}\b|\bmy\s+last\s+(order|purchase)\b", re.IGNORECASE
)
_OLDEST = re.compile(rf"\b(my|the)\s+(oldest|earliest)\s+{_ORDER_NOUN}\b", re.IGNORECASE)


@dataclass(frozen=True)
class OrderDescription:
    """What a message says about which order it means, kept in the bot state between turns."""

    statuses: tuple[str, ...] = ()
    recency: Recency = ""

    def __bool__(self) -> bool:
        return bool(self.statuses or self.recency)

    def merged_over(self, earlier: OrderDescription) -> OrderDescription:
        """An answer to "Which order?" adds to what the request said ("cancel my pending order",
        then "the latest one")."""
        return OrderDescription(self.statuses or earlier.statuses, self.recency or earlier.recency)

    def as_state(self) -> dict[str, Any]:
        """The JSON kept in the conversation's bot state between turns (no customer data)."""
        return {"statuses": list(self.statuses), "recency": self.recency}

    @classmethod
    def from_state(cls, value: object) -> OrderDescription:
        if not isinstance(value, dict):
            return cls()
        statuses = value.get("statuses")
        recency = value.get("recency")
        return cls(
            tuple(s for s in statuses if s in _STATUS_FORMS) if isinstance(statuses, list) else (),
            recency if recency in ("latest", "oldest") else "",
        )


def order_description_in(*, text: str) -> OrderDescription:
    statuses = tuple(
        status
        for status, pattern in _STATUS_PATTERNS.items()
        if pattern.search(text) and not _NEGATED[status].search(text)
    )
    recency: Recency = "latest" if _LATEST.search(text) else "oldest" if _OLDEST.search(text) else ""
    return OrderDescription(statuses, recency)


def orders_described(*, orders: list[dict[str, Any]], description: OrderDescription) -> list[dict[str, Any]]:
    """The orders the description names: those in the statuses it names, then the latest or oldest
    of them. Empty when no order has a status it names."""
    described = [o for o in orders if not description.statuses or o.get("status") in description.statuses]
    if described and description.recency:
        placed = sorted(described, key=lambda o: str(o.get("placed_at", "")))
        described = [placed[-1] if description.recency == "latest" else placed[0]]
    return described
