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

from conversations.bot.understanding.intent import IntentGuess
from conversations.bot.understanding.requests import (
    ADDRESS_PLACEHOLDER,
    EMAIL_PLACEHOLDER,
    NEVER_MIND,
    is_smalltalk,
    order_number_in,
    requested_action,
    supplies_what_is_pending,
)
from knowledge.selectors import Retrieval

NEEDS_ORDER = {"get_order", "cancel_order", "return_order", "change_order_address"}
VERIFY_ASK = "please send your order number and the email address you used for the order."
_DOING = {"get_order": "check your order", "list_my_orders": "look up your orders", "cancel_order": "cancel your order",
          "return_order": "start your return", "change_order_address": "change the delivery address",
          "change_account_address": "update your account address"}
# Offered after a policy answer whose topic the bot can also act on.
_CAN_ALSO = {"cancel_order": "cancel an order for you", "return_order": "start a return for you",
             "change_order_address": "change the delivery address of an order", "get_order": "check on an order for you"}
_TOPIC_ACTIONS = [(re.compile(r"\bcancel", re.IGNORECASE), "cancel_order"),
                  (re.compile(r"\b(return|refund|send (it|them|something) back)", re.IGNORECASE), "return_order"),
                  (re.compile(r"\baddress", re.IGNORECASE), "change_order_address")]


@dataclass
class OfflineStep:
    """What to do for this message: call `tool` with `args`, or just say `text`."""

    text: str = ""
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    citations_from: int = 0  # how many top chunks the text cites
    related: list[dict[str, str]] = field(default_factory=list)  # closest articles when not answering
    state: dict[str, Any] = field(default_factory=dict)  # what is still needed next turn
    answered: bool = True  # False: no grounded answer (counts toward missing_knowledge)
    handoff: str | None = None


def offline_step(*, text: str, state: dict[str, Any], verified: bool, retrieval: Retrieval,
                 guess: IntentGuess | None = None) -> OfflineStep:
    pending = state.get("intent")
    if pending and text:
        if NEVER_MIND.search(text):
            return OfflineStep(text="No problem, I've dropped that. Is there anything else I can help with?")
        if not supplies_what_is_pending(text=text, state=state):
            intent = requested_action(text=text, guess=guess, retrieval=retrieval)
            if intent is not None and intent != pending:
                return offline_step(text=text, state={}, verified=verified, retrieval=retrieval, guess=guess)
            asks_something_else = retrieval.confident or (guess is not None and guess.label == "question")
            if intent is None and (asks_something_else or is_smalltalk(text=text, guess=guess, retrieval=retrieval)):
                # A question in the middle of an ask is answered; the ask is offered again once,
                # then dropped, so it never traps the conversation.
                answer = _answer_without_action(text=text, retrieval=retrieval, guess=guess)
                if state.get("reminded"):
                    return answer
                answer.text += f"\n\n(Whenever you're ready to {_DOING.get(pending, 'go on')}, {_still_needed(state, verified)})"
                answer.state = {**state, "reminded": True}
                return answer
    intent = pending if pending and text and supplies_what_is_pending(text=text, state=state) else None
    if intent is None and text:
        intent = requested_action(text=text, guess=guess, retrieval=retrieval)
    if intent is None and pending:
        # No text: carrying on after a verification or an order pick in the same turn. Text that
        # neither answers the ask nor asks something else: ask again for what is needed.
        intent = pending
    order_number = order_number_in(text) or state.get("order_number")
    address = (ADDRESS_PLACEHOLDER.findall(text) or [state.get("new_address")])[-1]
    email = (EMAIL_PLACEHOLDER.findall(text) or [None])[-1]

    if intent == "handoff_to_human":
        return OfflineStep(tool="handoff_to_human", args={"reason": "customer_request"})
    if intent is None:
        return _answer_without_action(text=text, retrieval=retrieval, guess=guess)

    remembered = {"intent": intent, "order_number": order_number, "new_address": address,
                  "reminded": state.get("reminded") if intent == pending else None}
    remembered = {k: v for k, v in remembered.items() if v}
    if email and order_number_in(text) and verified:
        # Order number + email in one message: verify it, even if an earlier verification
        # unlocked another order (a verification reaches only the order it proved).
        return OfflineStep(tool="verify_identity", args={"order_number": order_number, "email": email},
                           state=remembered)
    if not verified:
        if order_number and email:
            return OfflineStep(tool="verify_identity", args={"order_number": order_number, "email": email},
                               state=remembered)
        return OfflineStep(text="I can help with that. First I need to check it's you: " + VERIFY_ASK, state=remembered)
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


def _still_needed(state: dict[str, Any], verified: bool) -> str:
    if not verified:
        return "just " + VERIFY_ASK
    if state.get("intent") in ("change_order_address", "change_account_address") and state.get("order_number"):
        return "just type the new address in full."
    return "just send the order number (it looks like SB-100042)."


def _answer_without_action(*, text: str, retrieval: Retrieval, guess: IntentGuess | None) -> OfflineStep:
    if is_smalltalk(text=text, guess=guess, retrieval=retrieval):
        return OfflineStep(text=_smalltalk_reply(text))
    step = _knowledge_answer(retrieval)
    if step.answered:
        offer = next((action for pattern, action in _TOPIC_ACTIONS if pattern.search(text)), None)
        if offer in _CAN_ALSO:
            step.text += f"\n\nIf you'd like, I can {_CAN_ALSO[offer]}: just tell me which one."
    return step


_THANKS = re.compile(r"\b(thank\w*|thx|cheers|appreciate|great|perfect|awesome|cool|ok|okay|got it|bye|goodbye)\b",
                     re.IGNORECASE)


def _smalltalk_reply(text: str) -> str:
    if _THANKS.search(text):
        return "You're welcome! Is there anything else I can help you with?"
    return ("Hi! I can answer questions about shipping, returns and our products, and look up or change your "
            "orders. What can I do for you?")


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


# "I don't know" is not a dead end: the closest articles are offered as links when they are at
# least loosely related (a cosine this low is a shared topic, not an answer).
_RELATED_MIN_SIMILARITY = 0.35
_RELATED_MAX = 3


def _knowledge_answer(retrieval: Retrieval) -> OfflineStep:
    if not retrieval.confident or not retrieval.chunks:
        related: list[dict[str, str]] = []
        for chunk in retrieval.chunks:
            if chunk.dense_score >= _RELATED_MIN_SIMILARITY and chunk.url and \
                    all(r["title"] != chunk.article_title for r in related):
                related.append({"title": chunk.article_title, "url": chunk.url})
        related = related[:_RELATED_MAX]
        if related:
            return OfflineStep(
                text="I'm sorry, I don't know the answer to that. These articles may be related; or say \"talk to a "
                     "human\" and I'll bring in a person from our team.",
                related=related, answered=False)
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
