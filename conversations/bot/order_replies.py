"""The offline responder's words about orders: which of the customer's orders a request without a
number means (or why none fits), and the customer-facing sentence for each order tool's result.
The model path writes its own sentences; the offline responder and the degraded mode use these.
Every sentence is translated (gettext): the turn runs under the customer's language.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from conversations.bot.understanding.order_reference import OrderDescription, orders_described
from conversations.core.commerce import CHANGEABLE_STATES, IN_FLIGHT_STATES

# The orders each request can apply to (the shop's rules, conversations/core/commerce.py).
_FITS = {**CHANGEABLE_STATES, "get_order": IN_FLIGHT_STATES}
_NONE_FITS = {
    "return_order": gettext_lazy("None of your recent orders can be returned any more."),
    "cancel_order": gettext_lazy("None of your recent orders can be cancelled any more."),
    "change_order_address": gettext_lazy("None of your recent orders can be sent elsewhere any more."),
}
ASK_FOR_ORDER = gettext_lazy("Which order is it about? Please send the order number (it looks like SB-100042).")
# The commerce API's order statuses, as the customer reads them.
_STATUS = {
    "pending": pgettext_lazy("order status", "pending"),
    "processed": pgettext_lazy("order status", "processed"),
    "shipped": pgettext_lazy("order status", "shipped"),
    "delivered": pgettext_lazy("order status", "delivered"),
    "returned": pgettext_lazy("order status", "returned"),
    "cancelled": pgettext_lazy("order status", "cancelled"),
}


def _status(status: object) -> str:
    return str(_STATUS.get(str(status), status))


def _why_not(*, intent: str, described: list[dict[str, Any]]) -> str:
    """Why the orders the customer described cannot take the request, in the request's terms."""
    values = {
        "orders": ", ".join(str(o["number"]) for o in described),
        "statuses": ", ".join(dict.fromkeys(_status(o["status"]) for o in described)),
    }
    statuses, count = {str(o["status"]) for o in described}, len(described)
    if intent == "return_order" and statuses <= {"pending", "processed"}:
        return (
            ngettext(
                "%(orders)s hasn't shipped yet (%(statuses)s), so there is nothing to return: I can cancel it "
                "instead, just ask.",
                "%(orders)s haven't shipped yet (%(statuses)s), so there is nothing to return: I can cancel them "
                "instead, just ask.",
                count,
            )
            % values
        )
    if intent == "return_order" and statuses <= IN_FLIGHT_STATES:
        return (
            ngettext(
                "%(orders)s hasn't been delivered yet (%(statuses)s): a return can start once it arrives.",
                "%(orders)s haven't been delivered yet (%(statuses)s): a return can start once they arrive.",
                count,
            )
            % values
        )
    if intent in ("cancel_order", "change_order_address") and statuses == {"delivered"}:
        return (
            ngettext(
                "%(orders)s has already been delivered (%(statuses)s), so that can't be changed any more. If you "
                "don't want it, you can return it.",
                "%(orders)s have already been delivered (%(statuses)s), so that can't be changed any more. If you "
                "don't want them, you can return them.",
                count,
            )
            % values
        )
    if intent in ("cancel_order", "change_order_address") and statuses <= {"shipped", "delivered"}:
        return (
            ngettext(
                "%(orders)s has already left our warehouse (%(statuses)s), so that can't be changed any more. "
                "Once it's delivered, you can return it.",
                "%(orders)s have already left our warehouse (%(statuses)s), so that can't be changed any more. "
                "Once they're delivered, you can return them.",
                count,
            )
            % values
        )
    return (
        _(
            "%(orders)s can't be changed that way any more (%(statuses)s). If you meant another order, please send its number."
        )
        % values
    )


def offline_order_pick(
    *,
    intent: str,
    orders: list[dict[str, Any]],
    description: OrderDescription | None = None,
    among_listed: bool = False,
) -> tuple[str | None, str]:
    """The order a request without a number means: the only one of the customer's orders it can
    apply to, or the one the customer described ("my pending order"; with `among_listed`, an
    answer to the list the bot showed, read among the orders listed). Otherwise no number, and
    what to say: which of several, or why none fits."""
    fits = _FITS.get(intent)
    if description and intent == "get_order":
        fits = None  # "where is my delivered order?" asks about that one, delivered or not
    candidates = [o for o in orders if fits is None or o.get("status") in fits]
    must_ask = ""
    if description:
        described = orders_described(orders=candidates if among_listed else orders, description=description)
        fitting = [o for o in described if fits is None or o.get("status") in fits]
        if len(fitting) == 1:
            return str(fitting[0]["number"]), ""
        if fitting:
            candidates = fitting
        elif described:
            # The customer named orders the request cannot apply to: say so, never pick another.
            return None, _why_not(intent=intent, described=described)
        else:
            # No order has the status named: show what fits rather than guess which one was meant.
            must_ask = _("I don't see a %(status)s order among your recent orders.") % {
                "status": " / ".join(_status(s) for s in description.statuses)
            }
    if len(candidates) == 1 and not must_ask:
        return str(candidates[0]["number"]), ""
    if not candidates:
        if not orders:
            return None, _("I don't see any orders on your account.") + f" {ASK_FOR_ORDER}"
        if intent == "get_order":
            return None, _("None of your recent orders is still on its way.") + f" {ASK_FOR_ORDER}"
        none_fits = _NONE_FITS.get(intent, gettext_lazy("None of your recent orders can be changed any more."))
        return None, f"{none_fits} " + _(
            "If it's an older one, please send its order number (it looks like SB-100042)."
        )
    lines = "\n".join(
        "• "
        + _("%(number)s: %(status)s, placed %(placed)s (%(total)s %(currency)s)")
        % {
            "number": o["number"],
            "status": _status(o["status"]),
            "placed": str(o.get("placed_at", ""))[:10],
            "total": o.get("total"),
            "currency": o.get("currency"),
        }
        for o in candidates
    )
    question = _("Which order is it about?") + f"\n{lines}"
    return None, f"{must_ask} {question}" if must_ask else question


def offline_tool_reply(*, tool: str, data: dict[str, Any]) -> str:
    """The customer-facing sentence for a tool result (the model writes its own)."""
    error = data.get("error")
    if error == "not_verified":
        return _("I need to check it's you first: please send your order number and the email address you used for it.")
    if error == "not_found":
        return _("I couldn't find that order for you. Please check the number (it looks like SB-100042).")
    if error == "not_allowed_in_state":
        return _("That isn't possible any more: the order is %(status)s.") % {"status": _status(data.get("status"))}
    if error == "unavailable":
        return _("Our order system isn't answering right now. I'm bringing in a person to help.")
    if error:
        return _("Sorry, something went wrong with that request.")
    if tool == "verify_identity":
        return (
            _("Thanks, you're verified.")
            if data.get("verified")
            else _("That order number and email don't match our records. Please check both and try again.")
        )
    if tool == "list_my_orders":
        orders = data.get("orders") or []
        if not orders:
            return _("I don't see any orders on your account.")
        lines = [
            "• "
            + _("%(number)s: %(status)s (%(total)s %(currency)s, placed %(placed)s)")
            % {
                "number": o["number"],
                "status": _status(o["status"]),
                "total": o["total"],
                "currency": o["currency"],
                "placed": o["placed_at"][:10],
            }
            for o in orders
        ]
        return _("Here are your latest orders:") + "\n" + "\n".join(lines)
    if tool == "get_order":
        return _order_sentence(data["order"])
    if data.get("status") == "awaiting_customer_confirmation":
        return f"{data['summary']} " + _("Please confirm below, or cancel if that's not what you want.")
    return _("Done.")


def _order_sentence(order: dict[str, Any]) -> str:
    items = ", ".join(f"{i['quantity']}× {i['name']}" for i in order["items"])
    placed = order["placed_at"][:10]
    status = order["status"]
    if status == "shipped":
        where = _("It's on its way with %(carrier)s, tracking number %(tracking)s.") % {
            "carrier": order["carrier"],
            "tracking": order["tracking_number"],
        }
    elif status == "delivered":
        where = _("It was delivered on %(date)s.") % {"date": (order["delivered_at"] or "")[:10]}
    elif status in ("pending", "processed"):
        where = _("It hasn't shipped yet; it will go to %(address)s.") % {"address": order["shipping_address"]}
    elif status == "returned":
        where = _("It was returned and %(amount)s %(currency)s refunded.") % {
            "amount": order["refunded_amount"],
            "currency": order["currency"],
        }
    else:
        where = _("It was cancelled.")
    return (
        _("Order %(number)s (%(items)s; %(total)s %(currency)s, placed %(placed)s) is %(status)s.")
        % {
            "number": order["number"],
            "items": items,
            "total": order["total"],
            "currency": order["currency"],
            "placed": placed,
            "status": _status(status),
        }
        + f" {where}"
    )
