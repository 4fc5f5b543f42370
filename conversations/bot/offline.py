"""The offline responder: the bot without a model. Used when no endpoint is configured and as the
degraded mode while the endpoint fails. Deterministic and grounded: it answers from the top
retrieved chunk with its citation when retrieval is confident, otherwise says it does not know
and offers a person; it recognizes the action intents, extracts their arguments (order numbers,
placeholders of what the customer typed) and drives the same tools and confirmations as the model.

Multi-step intents remember what they still need in `Conversation.bot_state`
({"intent": "cancel_order"} until an order number arrives).

Every sentence is translated (gettext): the turn runs under the customer's language. An answer from
an article in another language says so first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from conversations.bot.understanding.intent import IntentGuess
from conversations.bot.understanding.order_reference import (
    NEEDS_ORDER,
    OrderDescription,
    order_description_in,
)
from conversations.bot.understanding.requests import (
    ABOUT_THE_BOT,
    ADDRESS_PLACEHOLDER,
    EMAIL_PLACEHOLDER,
    NEVER_MIND,
    is_happy_remark,
    is_question,
    is_smalltalk,
    keyword_action,
    order_number_in,
    requested_action,
    supplies_what_is_pending,
    tells_of_a_problem,
    tells_of_a_problem_with_an_order,
)
from knowledge.passages import Section, passage_excerpt
from knowledge.selectors import Retrieval

VERIFY_ASK = gettext_lazy("please send your order number and the email address you used for the order.")
# Fragments of "Whenever you're ready to %(doing)s, %(needed)s": the context tells translators where they go.
_DOING = {
    "get_order": pgettext_lazy("whenever you're ready to", "check your order"),
    "list_my_orders": pgettext_lazy("whenever you're ready to", "look up your orders"),
    "cancel_order": pgettext_lazy("whenever you're ready to", "cancel your order"),
    "return_order": pgettext_lazy("whenever you're ready to", "start your return"),
    "change_order_address": pgettext_lazy("whenever you're ready to", "change the delivery address"),
    "change_account_address": pgettext_lazy("whenever you're ready to", "update your account address"),
}
# Offered after a policy answer whose topic the bot can also act on.
_CAN_ALSO = {
    "cancel_order": gettext_lazy("If you'd like, I can cancel an order for you: just tell me which one."),
    "return_order": gettext_lazy("If you'd like, I can start a return for you: just tell me which one."),
    "change_order_address": gettext_lazy(
        "If you'd like, I can change the delivery address of an order: just tell me which one."
    ),
    "get_order": gettext_lazy("If you'd like, I can check on an order for you: just tell me which one."),
}
_TOPIC_ACTIONS = [
    (re.compile(r"\bcancel", re.IGNORECASE), "cancel_order"),
    (re.compile(r"\b(return|refund|send (it|them|something) back)", re.IGNORECASE), "return_order"),
    (re.compile(r"\baddress", re.IGNORECASE), "change_order_address"),
]


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


def offline_step(
    *, text: str, state: dict[str, Any], verified: bool, retrieval: Retrieval, guess: IntentGuess | None = None
) -> OfflineStep:
    pending = state.get("intent")
    answers_which_order = False  # "the pending one", after "Which order is it about?"
    if pending and text:
        if NEVER_MIND.search(text):
            return OfflineStep(text=_("No problem, I've dropped that. Is there anything else I can help with?"))
        if not supplies_what_is_pending(text=text, state=state):
            intent = requested_action(text=text, guess=guess, retrieval=retrieval)
            # "the processed one" answers the list even when the classifier reads a status
            # request into it; words naming another action ("return my delivered order") do not.
            answers_which_order = (
                pending in NEEDS_ORDER
                and not state.get("order_number")
                and bool(order_description_in(text=text))
                and keyword_action(text) in (None, pending)
            )
            if intent is not None and intent != pending and not answers_which_order:
                return offline_step(text=text, state={}, verified=verified, retrieval=retrieval, guess=guess)
            # A question (whatever the classifier read into it: "what's your return window?" is
            # small talk 0.47) that does not supply what is pending asks something else.
            asks_something_else = (
                retrieval.confident
                or (guess is not None and guess.label == "question")
                # ... but "the most recent?" in answer to "which order?" reads as an order request
                or (is_question(text) and not (guess is not None and guess.is_action))
            )
            if (
                not answers_which_order
                and intent is None
                and (asks_something_else or is_smalltalk(text=text, guess=guess, retrieval=retrieval))
            ):
                # A question in the middle of an ask is answered; the ask is offered again once,
                # then dropped, so it never traps the conversation.
                answer = _answer_without_action(text=text, retrieval=retrieval, guess=guess)
                if state.get("reminded"):
                    return answer
                answer.text += (
                    "\n\n("
                    + _("Whenever you're ready to %(doing)s, %(needed)s")
                    % {
                        "doing": _DOING.get(pending, pgettext_lazy("whenever you're ready to", "go on")),
                        "needed": _still_needed(state, verified),
                    }
                    + ")"
                )
                answer.state = {**state, "reminded": True}
                return answer
    supplied = answers_which_order or supplies_what_is_pending(text=text, state=state)
    intent = pending if pending and text and supplied else None
    if intent is None and text:
        intent = requested_action(text=text, guess=guess, retrieval=retrieval)
    if intent is None and pending:
        # No text: carrying on after a verification or an order pick in the same turn. Text that
        # neither answers the ask nor asks something else: ask again for what is needed.
        intent = pending
    order_number = order_number_in(text) or state.get("order_number")
    if (
        not order_number
        and intent in NEEDS_ORDER
        and state.get("last_order")
        and _THAT_ORDER.search(text)
        and not order_description_in(text=text)
    ):
        # "cancel it", right after the bot answered about one order: that order.
        order_number = state["last_order"]
    address = (ADDRESS_PLACEHOLDER.findall(text) or [state.get("new_address")])[-1]
    email = (EMAIL_PLACEHOLDER.findall(text) or [None])[-1]

    if intent == "handoff_to_human":
        return OfflineStep(tool="handoff_to_human", args={"reason": "customer_request"})
    if intent is None:
        return _answer_without_action(text=text, retrieval=retrieval, guess=guess)

    # "my pending order": which of the customer's orders, kept until they are listed; an answer to
    # the list adds to what the request said and is read among the orders listed.
    hint = order_description_in(text=text)
    if intent == pending:
        hint = hint.merged_over(OrderDescription.from_state(state.get("order_hint")))
    remembered = {
        "intent": intent,
        "order_number": order_number,
        "new_address": address,
        "reminded": state.get("reminded") if intent == pending else None,
        "order_hint": hint.as_state() if hint else None,
        "among_listed": answers_which_order or (intent == pending and state.get("among_listed")),
    }
    remembered = {k: v for k, v in remembered.items() if v}
    if email and order_number_in(text) and verified:
        # Order number + email in one message: verify it, even if an earlier verification
        # unlocked another order (a verification reaches only the order it proved).
        return OfflineStep(
            tool="verify_identity", args={"order_number": order_number, "email": email}, state=remembered
        )
    if (
        not verified
        and not pending
        and not order_number
        and not email
        and retrieval.confident
        and tells_of_a_problem_with_an_order(text=text, action=intent)
    ):
        # "my parcel still hasn't arrived": what the help center says first, then the check of
        # the order (a request that stays pending, offered once).
        answer = _knowledge_answer(retrieval)
        if answer.answered:
            answer.text += "\n\n" + _("If you'd like me to check your order, %(ask)s") % {"ask": VERIFY_ASK}
            answer.state = {"intent": "get_order", "reminded": True}
            return answer
    if not verified:
        if order_number and email:
            return OfflineStep(
                tool="verify_identity", args={"order_number": order_number, "email": email}, state=remembered
            )
        return OfflineStep(
            text=_("I can help with that. First I need to check it's you: %(ask)s") % {"ask": VERIFY_ASK},
            state=remembered,
        )
    if intent in NEEDS_ORDER and not order_number:
        # Look at the customer's orders: when only one of them fits the request, that is the one.
        return OfflineStep(tool="list_my_orders", state={**remembered, "picking_order": True})
    if intent in ("change_order_address", "change_account_address") and not address:
        return OfflineStep(text=_("What is the new address? Please type it in full."), state=remembered)
    args: dict[str, Any] = {}
    if intent in NEEDS_ORDER:
        args["order_number"] = order_number
    if intent in ("change_order_address", "change_account_address"):
        args["new_address"] = address
    if intent == "return_order":
        args["reason"] = ""
    # The order the answer is about, for a next message that says "it" (one turn: each turn's state
    # replaces the last).
    return OfflineStep(tool=intent, args=args, state={"last_order": order_number} if order_number else {})


def without_last_order(state: dict[str, Any]) -> dict[str, Any]:
    """The state for a turn that answers nothing about an order: the order an earlier answer was
    about ("cancel it") is kept for one turn only."""
    return {key: value for key, value in state.items() if key != "last_order"}


# The order just talked about, named by a pronoun: "cancel it", "return that one", "this order".
# Only as the object of the request, at its start: "cancel it please", "ok, return that one"; not a
# stray "it" ("return my shoes, it's too small") or "that" ("cancel my processed order, that's the
# one I meant"), which name no order.
_THAT_ORDER = re.compile(
    r"^\W*(?:(?:ok|okay|yes|yeah|then|so|and|great|thanks)\W+)*(?:please |pls |can you |could you |now )?"
    r"(?:cancel|return|refund|send back|track|check on|redirect)\s+(?:it|that|this)(?: one| order| parcel| package)?\b"
    r"(?!\s+(?:i|you|we)\b)",
    re.IGNORECASE,
)


def _still_needed(state: dict[str, Any], verified: bool) -> str:
    if not verified:
        return str(VERIFY_ASK)  # "please send your order number and ..." (a "just" before it read "just please")
    if state.get("intent") in ("change_order_address", "change_account_address") and state.get("order_number"):
        return _("just type the new address in full.")
    return _("just send the order number (it looks like SB-100042).")


def _answer_without_action(*, text: str, retrieval: Retrieval, guess: IntentGuess | None) -> OfflineStep:
    if ABOUT_THE_BOT.search(text):
        return OfflineStep(text=str(_ABOUT_ME))
    if is_smalltalk(text=text, guess=guess, retrieval=retrieval):
        return OfflineStep(text=_smalltalk_reply(text))
    if is_happy_remark(text):
        # "my parcel came early, thanks!": acknowledged, not searched (the delivery article is no
        # answer to it) and not read as a status request
        return OfflineStep(
            text=_("That's great to hear, thank you for letting us know! Is there anything else I can help you with?")
        )
    step = _knowledge_answer(retrieval)
    if not step.answered and tells_of_a_problem(text):
        # "the tent pole snapped" asked nothing: sorry, and where help is, not "I don't know the answer"
        step.text = (
            _(
                "I'm sorry to hear that. I couldn't find an article that covers it for sure: these may help, or say "
                '"talk to a human" and I\'ll bring in a person from our team.'
            )
            if step.related
            else _(
                'I\'m sorry to hear that. A person from our team can sort it out with you: just say "talk to a human".'
            )
        )
    if step.answered:
        offer = next((action for pattern, action in _TOPIC_ACTIONS if pattern.search(text)), None)
        if offer is None and guess is not None and guess.label == "get_order":
            # read as a status request, answered from the article ("parcel says delivered but
            # nothing here"): checking the order is offered after the answer
            offer = "get_order"
        if offer in _CAN_ALSO:
            step.text += f"\n\n{_CAN_ALSO[offer]}"
    return step


_THANKS = re.compile(
    r"\b(thank\w*|thx|cheers|appreciate|great|perfect|awesome|cool|ok|okay|got it|bye|goodbye)\b", re.IGNORECASE
)


_GOODBYE = re.compile(r"\b(bye|goodbye|see you|see ya|have a (good|nice) (day|one|evening))\b", re.IGNORECASE)
_ABOUT_ME = gettext_lazy(
    "I'm an automated assistant. I can answer questions about shipping, returns and our products, and look up "
    'or change your orders. If you\'d rather talk to a person from our team, just say "talk to a human".'
)


_FRUSTRATED = re.compile(
    r"\b(useless|stupid|dumb|terrible|awful|rubbish|pointless|unhelpful|not helpful|not helping|waste of time|annoying|"
    r"ridiculous)\b",
    re.IGNORECASE,
)


def _smalltalk_reply(text: str) -> str:
    if _FRUSTRATED.search(text):
        return _(
            "I'm sorry I haven't been able to help. Would you like me to bring in a person from our team? "
            'Just say "talk to a human".'
        )
    if _GOODBYE.search(text):
        return _("Goodbye! If anything else comes up, just write here.")
    if _THANKS.search(text):
        return _("You're welcome! Is there anything else I can help you with?")
    return _(
        "Hi! I can answer questions about shipping, returns and our products, and look up or change your "
        "orders. What can I do for you?"
    )


# "I don't know" is not a dead end: the closest articles are offered as links when they are at
# least loosely related (a cosine this low is a shared topic, not an answer).
_RELATED_MIN_SIMILARITY = 0.35
_RELATED_MAX = 3


# As they read inside a sentence ("… only available in English"): lower case in French and Spanish.
_LANGUAGE_NAMES = {
    "en": pgettext_lazy("only available in", "English"),
    "de": pgettext_lazy("only available in", "German"),
    "fr": pgettext_lazy("only available in", "French"),
    "es": pgettext_lazy("only available in", "Spanish"),
}


def offline_escalation(step: OfflineStep) -> OfflineStep:
    """The reply to a miss that brings in a person (MISSES_BEFORE_HANDOFF in a row): it says so,
    rather than offering what is about to happen anyway. The closest articles stay as links."""
    if step.related:
        step.text = _(
            "I'm sorry, I couldn't find the answer to that either, so I'm bringing in a person from our team. "
            "Meanwhile, these articles may be related."
        )
    else:
        step.text = _(
            "I'm sorry, I couldn't find the answer to that either, so I'm bringing in a person from our team."
        )
    return step


def related_articles(retrieval: Retrieval) -> list[dict[str, str]]:
    """The closest articles offered as links when the bot does not know (both paths)."""
    related: list[dict[str, str]] = []
    for chunk in retrieval.chunks:
        if (
            chunk.dense_score >= _RELATED_MIN_SIMILARITY
            and chunk.url
            and all(r["title"] != chunk.article_title for r in related)
        ):
            related.append({"title": chunk.article_title, "url": chunk.url})
    return related[:_RELATED_MAX]


def _knowledge_answer(retrieval: Retrieval) -> OfflineStep:
    if not retrieval.confident or not retrieval.chunks:
        related = related_articles(retrieval)
        if related:
            return OfflineStep(
                text=_(
                    "I'm sorry, I don't know the answer to that. These articles may be related; or say \"talk to a "
                    "human\" and I'll bring in a person from our team."
                ),
                related=related,
                answered=False,
            )
        return OfflineStep(
            text=_(
                "I'm sorry, I don't know the answer to that. Would you like me to bring in a person from our team? "
                'Just say "talk to a human".'
            ),
            answered=False,
        )
    top = retrieval.chunks[0]
    customer_language = translation.get_language() or "en"
    if top.article_language and translation.get_supported_language_variant(customer_language) != top.article_language:
        # An answer from an article in another language beats none, but the customer should know
        # why it reads differently.
        language = _LANGUAGE_NAMES.get(top.article_language, top.article_language)
        lead = _("This article is only available in %(language)s: “%(title)s”") % {
            "language": language,
            "title": top.article_title,
        }
    else:
        lead = _("Here's what our help center says in “%(title)s”:") % {"title": top.article_title}
    passage = retrieval.passage or passage_excerpt(Section.of_chunk(heading_path=top.heading_path, text=top.text))
    return OfflineStep(text=f"{lead}\n\n{passage} [1]", citations_from=1)
