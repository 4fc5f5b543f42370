"""The bot's tools over the commerce API, shared by the model (function calling) and the offline
responder. Authorization is here, in code: a tool reaches an order only for a verified customer
and only when the API says that customer owns it; anything else gets the same `not_found`, so
nobody learns whether someone else's order exists. Who is verified is read from the conversation
for every call (conversations.chat.authorization): a signed-in customer reaches their orders and
account, a visitor verified by order number + email only that order, until it expires.

Verification cannot be guessed: one attempt per turn (counted on the turn's Actor, whichever
path asked), failures counted per conversation, IP and order number, locked out past a limit
(guardrails.verification_limits).

Read tools run at once. Write tools only propose (conversations.bot.actions); the customer's
confirmation runs them. Arguments are validated with pydantic; personal values in them are vault
placeholders, and results are redacted before the model or the database sees them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

from pydantic import BaseModel, Field, ValidationError, field_validator

from conversations.bot.actions import action_propose
from conversations.chat.authorization import conversation_authorization, conversation_verification_record
from conversations.core import commerce
from conversations.core.async_db import db
from conversations.models import ActionCall, Conversation
from guardrails.models import GuardrailEvent
from guardrails.pii.vault import text_rehydrate, vault_values
from guardrails.redaction import text_redact
from guardrails.services import guardrail_event_record, tool_result_redact
from guardrails.verification_limits import (
    VerificationLock,
    conversation_client_ip,
    verification_attempt_begin,
    verification_attempt_refund,
    verification_failure_settle,
    verification_failures,
)


@dataclass
class Actor:
    """Who the bot acts for in this turn. One per turn: `verifications` counts this turn's
    verification attempts. tool_run refreshes the identity fields from the conversation."""

    conversation_id: int
    customer_id: str | None  # the commerce API's customer id, when verified
    client_ip: str | None = None  # the sender of the latest message, for the per-IP verification limit
    order_scope: str | None = None  # verified by order number + email: only this order
    site_id: int | None = None
    verifications: int = 0


@dataclass
class ToolOutcome:
    data: dict[str, Any]  # redacted; goes to the model as the tool result
    proposal: ActionCall | None = None
    handoff_reason: str | None = None
    verified_customer_id: str | None = None
    failed: bool = False  # the API was unavailable

    def to_model(self) -> str:
        return json.dumps(self.data, ensure_ascii=False)


class OrderArgs(BaseModel):
    order_number: str = Field(min_length=3, max_length=40, description="The order number, e.g. SB-100042.")

    @field_validator("order_number")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        number = value.strip().upper()
        if not commerce.order_number_valid(number):
            raise ValueError("not an order number (they look like SB-100042)")
        return number


class VerifyArgs(OrderArgs):
    email: str = Field(
        min_length=3, max_length=200, description="The email placeholder the customer gave, e.g. <EMAIL_ADDRESS_1>."
    )


class ReturnArgs(OrderArgs):
    reason: str = Field(default="", max_length=300)


class AddressChangeArgs(OrderArgs):
    new_address: str = Field(
        min_length=3, max_length=300, description="The address placeholder, e.g. <STREET_ADDRESS_1>."
    )


class AccountAddressArgs(BaseModel):
    new_address: str = Field(
        min_length=3, max_length=300, description="The address placeholder, e.g. <STREET_ADDRESS_1>."
    )


# The reasons the model may give; the others are set by code (misses, failures, limits, agents).
MODEL_HANDOFF_REASONS = ("customer_request", "unsupported_request", "policy_restriction", "pending_clarification")


class HandoffArgs(BaseModel):
    reason: str = Field(
        default="customer_request",
        description=(
            "customer_request (they asked for a person), unsupported_request (you cannot do what they need), "
            "policy_restriction (policy forbids you to decide, e.g. an exception), or pending_clarification (you asked "
            "twice and still cannot tell what they need)."
        ),
    )


class NoArgs(BaseModel):
    pass


NOT_VERIFIED = {
    "error": "not_verified",
    "message": "The customer is not verified. Ask for the order number and the email address used for "
    "the order, then call verify_identity.",
}
NOT_FOUND = {"error": "not_found", "message": "No order with this number belongs to this customer."}
UNAVAILABLE = {"error": "unavailable", "message": "The order system is not answering."}
ACCOUNT_NOT_VERIFIED = {
    "error": "account_not_verified",
    "message": "A verification by order number covers that order only, not the account. A person "
    "from the team takes over.",
}
ONE_VERIFICATION = {
    "error": "one_verification_per_turn",
    "message": "Only one verification per customer message. Tell the customer the result and wait for their reply.",
}
LOCKED = {
    "error": "verification_locked",
    "message": "Too many failed verifications. Do not ask for more details; a person from the team takes over.",
}


def _other_order(scope: str) -> dict[str, str]:
    return {
        "error": "not_verified",
        "message": f"The customer is verified for order {scope} only. For another order, ask for that order's "
        "number and the email address used for it, then call verify_identity.",
    }


async def _owned_order(actor: Actor, number: str) -> dict[str, Any] | ToolOutcome:
    if not actor.customer_id:
        return ToolOutcome(data=NOT_VERIFIED)
    if actor.order_scope and number != actor.order_scope:
        return ToolOutcome(data=_other_order(actor.order_scope))
    try:
        order = await commerce.order_get(number)
    except commerce.CommerceError as error:
        if error.code in ("not_found", "validation"):
            return ToolOutcome(data=NOT_FOUND)
        return ToolOutcome(data=UNAVAILABLE, failed=True)
    if order.get("customer_id") != actor.customer_id:
        return ToolOutcome(data=NOT_FOUND)  # the same answer as a missing order: existence is not revealed
    return order


async def _redacted(actor: Actor, data: Any) -> Any:
    return await db(tool_result_redact)(conversation_id=actor.conversation_id, data=data)


async def list_my_orders(actor: Actor, args: NoArgs) -> ToolOutcome:
    if not actor.customer_id:
        return ToolOutcome(data=NOT_VERIFIED)
    try:
        orders = await commerce.customer_orders_list(actor.customer_id)
    except commerce.CommerceError:
        return ToolOutcome(data=UNAVAILABLE, failed=True)
    if actor.order_scope:
        orders = [o for o in orders if o.get("number") == actor.order_scope]
    return ToolOutcome(data={"orders": await _redacted(actor, orders[:10])})


async def get_order(actor: Actor, args: OrderArgs) -> ToolOutcome:
    order = await _owned_order(actor, args.order_number)
    if isinstance(order, ToolOutcome):
        return order
    return ToolOutcome(data={"order": await _redacted(actor, order)})


class _VerificationScopes(TypedDict):
    """What the verification limits count attempts by (guardrails/verification_limits.py)."""

    conversation_id: int
    client_ip: str | None
    order_number: str


async def verify_identity(actor: Actor, args: VerifyArgs) -> ToolOutcome:
    if actor.customer_id and not actor.order_scope:
        return ToolOutcome(data={"verified": True, "message": "The customer is signed in; no verification is needed."})
    number = args.order_number
    limits: _VerificationScopes = {
        "conversation_id": actor.conversation_id,
        "client_ip": actor.client_ip,
        "order_number": number,
    }
    # Through db() like the ORM calls: it reuses the context's Redis client and hands the thread's
    # pooled database connection back, which a bare asyncio.to_thread would keep checked out.
    lock = await db(verification_attempt_begin)(**limits)
    if lock is not None:
        return await _locked(actor, number, lock)
    values = await db(vault_values)(conversation_id=actor.conversation_id)
    email = text_rehydrate(args.email.strip(), values)
    try:
        customer_id = await commerce.customer_verify(order_number=number, email=email)
    except commerce.CommerceError:
        await db(verification_attempt_refund)(**limits)  # not a guess: the API did not answer
        return ToolOutcome(data=UNAVAILABLE, failed=True)
    if customer_id is None:
        failures = await db(verification_failures)(**limits)
        await db(guardrail_event_record)(
            kind=GuardrailEvent.Kind.VERIFICATION_FAILED,
            action=GuardrailEvent.Action.REJECTED,
            conversation_id=actor.conversation_id,
            site_id=actor.site_id,
            detail={"order_number": number, "failures": failures},
        )
        lock = await db(verification_failure_settle)(**limits)
        if lock is not None:
            return await _locked(actor, number, lock)
        return ToolOutcome(data={"verified": False, "message": "The order number and email do not match."})
    await db(verification_attempt_refund)(**limits)
    await db(conversation_verification_record)(
        conversation_id=actor.conversation_id, customer_id=customer_id, order_number=number
    )
    actor.customer_id, actor.order_scope = customer_id, number
    return ToolOutcome(
        data={"verified": True, "message": f"Verified for order {number} only."}, verified_customer_id=customer_id
    )


async def _locked(actor: Actor, number: str, lock: VerificationLock) -> ToolOutcome:
    await db(guardrail_event_record)(
        kind=GuardrailEvent.Kind.VERIFICATION_LOCKED,
        action=GuardrailEvent.Action.LOCKED,
        conversation_id=actor.conversation_id,
        site_id=actor.site_id,
        detail={"order_number": number, "scopes": list(lock.scopes), "newly_locked": lock.newly_locked},
    )
    return ToolOutcome(data=LOCKED, handoff_reason=Conversation.HandoffReason.USAGE_LIMIT)


async def _propose(actor: Actor, tool: str, arguments: dict[str, Any], summary: str) -> ToolOutcome:
    proposal = await db(action_propose)(
        conversation_id=actor.conversation_id,
        tool=tool,
        arguments=arguments,
        summary=summary,
        customer_id=actor.customer_id,
    )
    return ToolOutcome(
        data={
            "status": "awaiting_customer_confirmation",
            "summary": summary,
            "message": "A confirmation card is shown to the customer. Tell them to confirm it; do not say it is done.",
        },
        proposal=proposal,
    )


async def _order_change(actor: Actor, tool: str, number: str) -> dict[str, Any] | ToolOutcome:
    order = await _owned_order(actor, number)
    if isinstance(order, ToolOutcome):
        return order
    if order["status"] not in commerce.CHANGEABLE_STATES[tool]:
        return ToolOutcome(
            data={
                "error": "not_allowed_in_state",
                "status": order["status"],
                "message": f"This order is {order['status']}; that is not possible any more.",
            }
        )
    return order


def _items(order: dict[str, Any]) -> str:
    return ", ".join(f"{i['quantity']}× {i['name']}" for i in order["items"])


async def cancel_order(actor: Actor, args: OrderArgs) -> ToolOutcome:
    order = await _order_change(actor, "cancel_order", args.order_number)
    if isinstance(order, ToolOutcome):
        return order
    summary = f"Cancel order {order['number']} ({_items(order)}; {order['total']} {order['currency']})."
    return await _propose(actor, "cancel_order", {"order_number": order["number"]}, summary)


async def return_order(actor: Actor, args: ReturnArgs) -> ToolOutcome:
    order = await _order_change(actor, "return_order", args.order_number)
    if isinstance(order, ToolOutcome):
        return order
    refund = f"{float(order['total']) - float(order['refunded_amount']):.2f} {order['currency']}"
    summary = f"Return order {order['number']} ({_items(order)}) for a refund of {refund}."
    reason = (
        (await db(text_redact)(conversation_id=actor.conversation_id, text=args.reason)).text if args.reason else ""
    )
    return await _propose(actor, "return_order", {"order_number": order["number"], "reason": reason}, summary)


async def _address_placeholder(actor: Actor, address: str) -> str:
    # The model only ever saw placeholders; anything else it passes is redacted like customer text.
    return (await db(text_redact)(conversation_id=actor.conversation_id, text=address.strip())).text


async def change_order_address(actor: Actor, args: AddressChangeArgs) -> ToolOutcome:
    order = await _order_change(actor, "change_order_address", args.order_number)
    if isinstance(order, ToolOutcome):
        return order
    address = await _address_placeholder(actor, args.new_address)
    summary = f"Ship order {order['number']} to {address} instead."
    return await _propose(
        actor, "change_order_address", {"order_number": order["number"], "new_address": address}, summary
    )


async def change_account_address(actor: Actor, args: AccountAddressArgs) -> ToolOutcome:
    if not actor.customer_id:
        return ToolOutcome(data=NOT_VERIFIED)
    if actor.order_scope:
        return ToolOutcome(data=ACCOUNT_NOT_VERIFIED, handoff_reason=Conversation.HandoffReason.POLICY_RESTRICTION)
    address = await _address_placeholder(actor, args.new_address)
    return await _propose(
        actor, "change_account_address", {"new_address": address}, f"Change the address on your account to {address}."
    )


async def handoff_to_human(actor: Actor, args: HandoffArgs) -> ToolOutcome:
    reason = args.reason if args.reason in MODEL_HANDOFF_REASONS else "customer_request"
    return ToolOutcome(data={"status": "a person will join"}, handoff_reason=reason)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[Actor, Any], Awaitable[ToolOutcome]]
    writes: bool = False

    def schema(self) -> dict[str, Any]:
        parameters = self.args.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in [
        ToolSpec(
            "list_my_orders",
            "Use when a verified customer asks about their orders without giving a number. "
            "Returns their ten latest orders (number, status, date, total). Not for other people's orders.",
            NoArgs,
            list_my_orders,
        ),
        ToolSpec(
            "get_order",
            "Use to answer about one order (status, items, total, shipping address, tracking). "
            "Returns the order, or not_found / not_verified. Do not use for policy questions.",
            OrderArgs,
            get_order,
        ),
        ToolSpec(
            "verify_identity",
            "Use when a tool said not_verified and the customer gave an order number and an "
            "email. Checks with the shop that the email owns that order. Returns verified true/false.",
            VerifyArgs,
            verify_identity,
        ),
        ToolSpec(
            "cancel_order",
            "Use when the customer asks to cancel an order. Only proposes: the customer confirms "
            "on a card. Returns awaiting_customer_confirmation, or why it is not possible.",
            OrderArgs,
            cancel_order,
            writes=True,
        ),
        ToolSpec(
            "return_order",
            "Use when the customer wants to return a delivered order for a refund. Only proposes: "
            "the customer confirms. Returns awaiting_customer_confirmation, or why not.",
            ReturnArgs,
            return_order,
            writes=True,
        ),
        ToolSpec(
            "change_order_address",
            "Use when the customer wants an order shipped to another address (the address "
            "placeholder they typed). Only proposes; the customer confirms.",
            AddressChangeArgs,
            change_order_address,
            writes=True,
        ),
        ToolSpec(
            "change_account_address",
            "Use when the customer wants the address on their account changed (not an "
            "order's). Only proposes; the customer confirms.",
            AccountAddressArgs,
            change_account_address,
            writes=True,
        ),
        ToolSpec(
            "handoff_to_human",
            "Use when the customer asks for a person, or when you cannot help. A human agent "
            "takes over the conversation. Returns at once.",
            HandoffArgs,
            handoff_to_human,
        ),
    ]
}


@lru_cache(maxsize=1)
def _schemas() -> tuple[dict[str, Any], ...]:
    return tuple(spec.schema() for spec in TOOLS.values())


def tool_schemas() -> list[dict[str, Any]]:
    """The tools as the model sees them (built once: pydantic's schema generation is slow)."""
    return list(_schemas())


async def tool_run(*, actor: Actor, name: str, raw_arguments: str) -> ToolOutcome:
    """Run a tool the model (or the offline responder) asked for. Unknown tools and malformed
    arguments come back as errors the model can correct, never as exceptions."""
    spec = TOOLS.get(name)
    if spec is None:
        return ToolOutcome(data={"error": "unknown_tool", "message": f"There is no tool {name!r}."})
    try:
        arguments = json.loads(raw_arguments or "{}")
        args = spec.args.model_validate(arguments)
    except (json.JSONDecodeError, ValidationError) as error:
        return ToolOutcome(data={"error": "invalid_arguments", "message": str(error)[:300]})
    await _authorize(actor)
    if spec.run is verify_identity:
        if actor.verifications >= 1:
            return ToolOutcome(data=ONE_VERIFICATION)
        actor.verifications += 1
    return await spec.run(actor, args)


async def _authorize(actor: Actor) -> None:
    """The conversation decides who the actor is, not what the caller remembered: a verification
    may have expired, been cleared by a resolve, or happened earlier in this turn."""
    authorization = await db(conversation_authorization)(conversation_id=actor.conversation_id)
    actor.customer_id, actor.order_scope = authorization.customer_id, authorization.order_number
    actor.site_id = authorization.site_id
    if actor.client_ip is None:
        actor.client_ip = await db(conversation_client_ip)(conversation_id=actor.conversation_id)
