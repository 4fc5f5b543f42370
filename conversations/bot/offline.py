"""The offline responder: the bot without a model. Used when no endpoint is configured and as the
degraded mode while the endpoint fails. Deterministic and grounded: it answers from the top
retrieved chunk with its citation when retrieval is confident, otherwise says it does not know
and offers a person; it recognizes the action intents, extracts their arguments (order numbers,
placeholders of what the customer typed) and drives the same tools and confirmations as the model.

Multi-step intents remember what they still need in `Conversation.bot_state`
({"intent": "cancel_order"} until an order number arrives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from knowledge.selectors import Retrieval

_HUMAN = re.compile(r"\b(human|real person|(an?|the) agent|representative|operator|someone (real|else)|"
                    r"(talk|speak|chat) (to|with) (a |an |some)?(person|one|body|human|agent))\b", re.IGNORECASE)
_CANCEL = re.compile(r"\bcancel", re.IGNORECASE)
_RETURN = re.compile(r"\b(return|refund|send (it|them) back|money back)", re.IGNORECASE)
_ADDRESS = re.compile(r"\baddress\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(account|profile|billing)\b", re.IGNORECASE)
_CHANGE = re.compile(r"\b(change|update|correct|wrong|new|different|move|moved|ship (it )?to)\b", re.IGNORECASE)
_STATUS = re.compile(r"\b(where|status|track|tracking|shipped|arriv\w*|deliver\w*|when will|late|order)\b", re.IGNORECASE)
_LIST = re.compile(r"\b(my|recent|past|last) orders\b", re.IGNORECASE)
_MY_ORDER = re.compile(r"\bmy (last |latest |recent |new )?(order|package|parcel|delivery|shipment)\b", re.IGNORECASE)
# A request to act ("please cancel", "I want to return order ...") rather than a question about a
# policy ("how long do I have to return something?"), which the knowledge base answers.
_REQUEST = re.compile(r"\b(i (really )?(want|need|wish|would like)|i'd like|please|can you|could you|would you|help me|"
                      r"wanna|let me|i have to)\b", re.IGNORECASE)
_QUESTION = re.compile(r"^\s*(how|what|when|why|which|is|are|do|does|can i|may i|will)\b", re.IGNORECASE)
_ADDRESS_PLACEHOLDER = re.compile(r"<STREET_ADDRESS_\d+>")
_EMAIL_PLACEHOLDER = re.compile(r"<EMAIL_ADDRESS_\d+>")

NEEDS_ORDER = {"get_order", "cancel_order", "return_order", "change_order_address"}


@dataclass
class OfflineStep:
    """What to do for this message: call `tool` with `args`, or just say `text`."""

    text: str = ""
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    citations_from: int = 0  # how many top chunks the text cites
    state: dict[str, Any] = field(default_factory=dict)  # what is still needed next turn
    answered: bool = True  # False: no grounded answer (counts toward missing_knowledge)
    handoff: str | None = None


def _intent(text: str) -> str | None:
    if _HUMAN.search(text):
        return "handoff_to_human"
    if _CANCEL.search(text):
        return "cancel_order"
    if _RETURN.search(text):
        return "return_order"
    if _ADDRESS.search(text) and (_CHANGE.search(text) or _ADDRESS_PLACEHOLDER.search(text)):
        return "change_account_address" if _ACCOUNT.search(text) and not _order_number(text) else "change_order_address"
    if _LIST.search(text):
        return "list_my_orders"
    if (_order_number(text) or _MY_ORDER.search(text)) and _STATUS.search(text):
        return "get_order"
    return None


def _order_number(text: str) -> str | None:
    match = re.search(settings.COMMERCE_ORDER_NUMBER_PATTERN, text)
    return match.group(0).upper() if match else None


def offline_step(*, text: str, state: dict[str, Any], verified: bool, retrieval: Retrieval) -> OfflineStep:
    intent = _intent(text)
    pending = state.get("intent")
    if intent is None and pending:
        intent = pending  # the customer is answering our question ("SB-100042")
    order_number = _order_number(text) or state.get("order_number")
    address = (_ADDRESS_PLACEHOLDER.findall(text) or [state.get("new_address")])[-1]
    email = (_EMAIL_PLACEHOLDER.findall(text) or [None])[-1]

    if intent == "handoff_to_human":
        return OfflineStep(tool="handoff_to_human", args={"reason": "customer_request"})
    about_own_order = intent == "get_order"  # "where is my order?" is never a policy question
    if intent is not None and intent != pending and retrieval.confident and not _order_number(text) and (
            not about_own_order) and (_QUESTION.search(text) or not _REQUEST.search(text)):
        intent = None  # a question about the policy, not a request to act on an order
    if intent is None:
        return _knowledge_answer(retrieval)

    remembered = {"intent": intent, "order_number": order_number, "new_address": address}
    remembered = {k: v for k, v in remembered.items() if v}
    if not verified:
        if order_number and email:
            return OfflineStep(tool="verify_identity", args={"order_number": order_number, "email": email},
                               state=remembered)
        return OfflineStep(
            text="I can help with that. First I need to check it's you: please send your order number and the email "
                 "address you used for the order.",
            state=remembered,
        )
    if intent in NEEDS_ORDER and not order_number:
        # Look at the customer's orders: when only one of them fits the request, that is the one.
        return OfflineStep(tool="list_my_orders", state={**remembered, "picking_order": True})
    if intent in ("change_order_address", "change_account_address") and not address:
        return OfflineStep(text="What is the new address? Please type it in full.", state=remembered)
    args: dict[str, Any] = {}
    if intent in NEEDS_ORDER:
        args["order_number"] = order_number
    if intent in ("change_order_address", "change_account_address"):
        args["new_address"] = address
    if intent == "return_order":
        args["reason"] = ""
    return OfflineStep(tool=intent, args=args)


# The orders each request can apply to (the shop's rules: only delivered orders are returned...).
_FITS = {"return_order": {"delivered"}, "cancel_order": {"pending", "processed"},
         "change_order_address": {"pending", "processed"}, "get_order": {"pending", "processed", "shipped"}}
_DONE_TO = {"return_order": "returned", "cancel_order": "cancelled", "change_order_address": "sent elsewhere"}
ASK_FOR_ORDER = "Which order is it about? Please send the order number (it looks like SB-100042)."


def offline_order_pick(*, intent: str, orders: list[dict[str, Any]]) -> tuple[str | None, str]:
    """The order a request without a number means: the only one of the customer's orders it can
    apply to. Otherwise no number, and what to ask: which of several, or why none fits."""
    fits = _FITS.get(intent)
    candidates = [o for o in orders if fits is None or o.get("status") in fits]
    if len(candidates) == 1:
        return str(candidates[0]["number"]), ""
    if not candidates:
        if not orders:
            return None, "I don't see any orders on your account. " + ASK_FOR_ORDER
        if intent == "get_order":
            return None, "None of your recent orders is still on its way. " + ASK_FOR_ORDER
        return None, (f"None of your recent orders can be {_DONE_TO.get(intent, 'changed')} any more. "
                      "If it's an older one, please send its order number (it looks like SB-100042).")
    lines = "\n".join(f"• {o['number']}: {o['status']}, placed {str(o.get('placed_at', ''))[:10]} "
                      f"({o.get('total')} {o.get('currency')})" for o in candidates)
    return None, f"Which order is it about?\n{lines}"


def _knowledge_answer(retrieval: Retrieval) -> OfflineStep:
    if not retrieval.confident or not retrieval.chunks:
        return OfflineStep(
            text="I'm sorry, I don't know the answer to that. Would you like me to bring in a person from our team? "
                 "Just say \"talk to a human\".",
            answered=False,
        )
    top = retrieval.chunks[0]
    return OfflineStep(text=f"Here's what our help center says in “{top.article_title}”:\n\n{_excerpt(top.text)} [1]",
                       citations_from=1)


def _excerpt(text: str, limit: int = 600) -> str:
    """Whole lines from the start of the chunk, without its heading lines, cut at a sentence end
    past `limit`. Lists keep their line breaks."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) > limit:
            room = limit - sum(len(k) + 1 for k in kept)
            cut = line[:room]
            end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
            if end > room // 3:
                kept.append(cut[: end + 1])
            elif not kept:
                kept.append(cut.rstrip() + "…")
            break
        kept.append(line)
    return "\n".join(kept)


def offline_tool_reply(*, tool: str, data: dict[str, Any]) -> str:
    """The customer-facing sentence for a tool result (the model writes its own)."""
    error = data.get("error")
    if error == "not_verified":
        return "I need to check it's you first: please send your order number and the email address you used for it."
    if error == "not_found":
        return "I couldn't find that order for you. Please check the number (it looks like SB-100042)."
    if error == "not_allowed_in_state":
        return f"That isn't possible any more: the order is {data.get('status')}."
    if error == "unavailable":
        return "Our order system isn't answering right now. I'm bringing in a person to help."
    if error:
        return "Sorry, something went wrong with that request."
    if tool == "verify_identity":
        return "Thanks, you're verified." if data.get("verified") else \
            "That order number and email don't match our records. Please check both and try again."
    if tool == "list_my_orders":
        orders = data.get("orders") or []
        if not orders:
            return "I don't see any orders on your account."
        lines = [f"• {o['number']}: {o['status']} ({o['total']} {o['currency']}, placed {o['placed_at'][:10]})" for o in orders]
        return "Here are your latest orders:\n" + "\n".join(lines)
    if tool == "get_order":
        return _order_sentence(data["order"])
    if data.get("status") == "awaiting_customer_confirmation":
        return f"{data['summary']} Please confirm below, or cancel if that's not what you want."
    return "Done."


def _order_sentence(order: dict[str, Any]) -> str:
    items = ", ".join(f"{i['quantity']}× {i['name']}" for i in order["items"])
    placed = order["placed_at"][:10]
    status = order["status"]
    if status == "shipped":
        where = f"It's on its way with {order['carrier']}, tracking number {order['tracking_number']}."
    elif status == "delivered":
        where = f"It was delivered on {(order['delivered_at'] or '')[:10]}."
    elif status in ("pending", "processed"):
        where = f"It hasn't shipped yet; it will go to {order['shipping_address']}."
    elif status == "returned":
        where = f"It was returned and {order['refunded_amount']} {order['currency']} refunded."
    else:
        where = "It was cancelled."
    return f"Order {order['number']} ({items}; {order['total']} {order['currency']}, placed {placed}) is {status}. {where}"
