"""Confirmed actions: a write tool only proposes; the customer's `action` frame decides.

Exactly once: a confirm claims the proposal with a conditional UPDATE (proposed -> executing,
not expired), so a retried or duplicated confirm frame finds nothing to claim and changes
nothing; the API call carries the proposal's idempotency key, so even a retry after a crash
cannot run the change twice on the company's side.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from conversations.chat.languages import conversation_language_get
from conversations.chat.messages import message_post
from conversations.core import commerce
from conversations.core.async_db import call_service, db
from conversations.core.events import publish_bot_activity, publish_collected
from conversations.handoff.services import conversation_request_human
from conversations.models import ActionAttempt, ActionCall, Conversation, Message
from guardrails.pii.vault import text_rehydrate, vault_values
from guardrails.services import tool_result_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue

logger = logging.getLogger(__name__)


EXPIRED_TEXT = gettext_noop(
    "That request expired before it was confirmed, so nothing was changed. Ask me again if you still want it."
)
CANCELLED_TEXT = gettext_noop("Okay, I won't make that change.")


class ActionNotFound(CodedError):
    pass


@dataclass(frozen=True)
class Decided:
    action: ActionCall
    execute: bool  # this call claimed the proposal and must execute it


def action_card(action: ActionCall) -> dict[str, Any]:
    """The protocol's `action` payload shown as a card in the widget."""
    return {
        "action_id": str(action.public_id),
        "tool": action.tool,
        "summary": action.summary,
        "status": action.status,
        "expires_at": action.expires_at.isoformat(),
    }


def action_propose(
    *, conversation_id: int, tool: str, arguments: dict[str, Any], summary: str, customer_id: str
) -> ActionCall:
    return ActionCall.objects.create(
        conversation_id=conversation_id,
        tool=tool,
        arguments=arguments,
        summary=summary,
        customer_id=customer_id,
        idempotency_key=f"supportbot-{uuid.uuid4()}",
        expires_at=timezone.now() + timedelta(minutes=settings.ACTION_PROPOSAL_TTL_MINUTES),
    )


def action_waiting(*, conversation_id: int) -> str | None:
    """The id of the card the bot's latest message shows (or points to: `awaits_action`) while it
    still waits for the customer's decision. An older card nobody decided does not make every
    later "ok" a decision on it."""
    latest = (
        Message.objects.filter(conversation_id=conversation_id, role=Message.Role.BOT)
        .order_by("-seq")
        .values_list("extras", flat=True)
        .first()
    ) or {}
    action_id = (latest.get("action") or {}).get("action_id") or latest.get("awaits_action")
    if (
        action_id
        and ActionCall.objects.filter(
            public_id=action_id, status=ActionCall.Status.PROPOSED, expires_at__gt=timezone.now()
        ).exists()
    ):
        return str(action_id)
    return None


def action_decide(*, conversation_id: int, action_id: str, decision: str) -> Decided:
    try:
        public_id = uuid.UUID(action_id)
    except ValueError:
        raise ActionNotFound("not_found", "there is no pending action with this id") from None
    now = timezone.now()
    confirmed = decision == "confirm"
    with transaction.atomic():
        claimed = ActionCall.objects.filter(
            conversation_id=conversation_id,
            public_id=public_id,
            status=ActionCall.Status.PROPOSED,
            expires_at__gt=now,
        ).update(
            status=ActionCall.Status.EXECUTING if confirmed else ActionCall.Status.CANCELLED,
            decided_at=now,
            decided_by="customer",
            execution_lease_until=_execution_lease_end(now) if confirmed else None,
        )
        try:
            action = ActionCall.objects.get(conversation_id=conversation_id, public_id=public_id)
        except ActionCall.DoesNotExist:
            raise ActionNotFound("not_found", "there is no pending action with this id") from None
        if not claimed and action.status == ActionCall.Status.PROPOSED:  # it expired
            expired_now = ActionCall.objects.filter(pk=action.pk, status=ActionCall.Status.PROPOSED).update(
                status=ActionCall.Status.EXPIRED
            )
            action.refresh_from_db()
            if expired_now:
                # A stored message, so every open widget turns the card to "expired" instead of
                # waiting on a change that will never run.
                _card_message_post(action=action, text=EXPIRED_TEXT)
        if claimed and decision == "cancel":
            _card_message_post(action=action, text=CANCELLED_TEXT)
    return Decided(action=action, execute=bool(claimed) and confirmed)


def _execution_lease_end(now: datetime) -> datetime:
    # A live execution always ends within its timeout; the margin covers recording the outcome.
    return now + timedelta(seconds=settings.ACTION_EXECUTION_TIMEOUT_SECONDS + 30)


def stalled_actions(*, limit: int = 20) -> list[int]:
    """Confirmed changes whose executing process died: still executing, lease run out."""
    return list(
        ActionCall.objects.filter(status=ActionCall.Status.EXECUTING, execution_lease_until__lt=timezone.now())
        .order_by("execution_lease_until")
        .values_list("pk", flat=True)[:limit]
    )


def action_recovery_claim(*, action_id: int) -> ActionCall | None:
    """Take over a stalled execution (conditional UPDATE: one taker). Running it again is safe:
    the API call carries the same idempotency key, so a change the dead process had already made
    is replayed, not repeated."""
    now = timezone.now()
    claimed = ActionCall.objects.filter(
        pk=action_id,
        status=ActionCall.Status.EXECUTING,
        execution_lease_until__lt=now,
    ).update(execution_lease_until=_execution_lease_end(now))
    return ActionCall.objects.select_related("conversation").get(pk=action_id) if claimed else None


def _card_message_post(*, action: ActionCall, text: str) -> None:
    with translation.override(conversation_language_get(conversation_id=action.conversation_id)):
        text = gettext(text)
    message_post(
        conversation_id=action.conversation_id,
        role=Message.Role.BOT,
        text=text,
        extras={"action": action_card(action)},
        max_chars=10_000,
    )


def action_finish(*, action_id: int, outcome: dict[str, Any]) -> ActionCall:
    """Record the API's answer and tell the customer, in one transaction."""
    with transaction.atomic():
        action = ActionCall.objects.select_for_update().get(pk=action_id)
        if action.status != ActionCall.Status.EXECUTING:
            return action  # already finished by another attempt: the customer was told once
        ActionAttempt.objects.create(
            action=action,
            duration_ms=outcome.get("duration_ms"),
            http_status=outcome.get("http_status"),
            outcome=outcome["outcome"],
            error_code=outcome.get("error_code", ""),
            replayed=outcome.get("replayed", False),
        )
        succeeded = outcome["outcome"] == "succeeded"
        action.status = ActionCall.Status.SUCCEEDED if succeeded else ActionCall.Status.FAILED
        action.result = outcome.get("result", {})
        action.error_code = outcome.get("error_code", "")
        action.save(update_fields=["status", "result", "error_code"])
        webhook_events_enqueue(
            conversation_id=action.conversation_id,
            event="action.executed",
            payload=webhook_payloads.action_executed(action),
        )
        _card_message_post(action=action, text=_outcome_text(action))
        if not succeeded:
            conversation_request_human(
                conversation_id=action.conversation_id, reason=Conversation.HandoffReason.TOOL_FAILURE
            )
    return action


def _outcome_text(action: ActionCall) -> str:
    if action.status == ActionCall.Status.SUCCEEDED:
        number = action.arguments.get("order_number", "")
        if action.tool == "return_order":
            refund = action.result.get("refund") or {}
            return (
                f"Done: order {number} is registered as returned, and a refund of {refund.get('amount')} "
                f"{refund.get('currency')} is on its way to your original payment method."
            )
        if action.tool == "cancel_order":
            return f"Done: order {number} is cancelled."
        if action.tool == "change_order_address":
            return f"Done: order {number} will ship to {action.arguments.get('new_address')}."
        return f"Done: your account address is now {action.arguments.get('new_address')}."
    if action.error_code == "not_allowed_in_state":
        return "I couldn't do that: the order has moved on since I proposed it. I'm bringing in a person to help."
    if action.error_code == "unavailable":
        # A timeout or a dropped connection: the API may have applied the change or not.
        return (
            "I couldn't get a confirmation from our order system, so I can't be sure the change went "
            "through. I'm bringing in a person to check and finish it."
        )
    return "Something went wrong on our side and nothing was changed. I'm bringing in a person to help."


_running: set[asyncio.Task] = set()


def action_execution_schedule(*, action: ActionCall, public_id: object) -> None:
    task = asyncio.get_running_loop().create_task(action_execute(action=action, public_id=public_id))
    _running.add(task)
    task.add_done_callback(_execution_done)


def _execution_done(task: asyncio.Task) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Nobody awaits this task: without this line its failure would never reach the log.
        logger.error("action execution crashed", exc_info=task.exception())


async def action_execute(*, action: ActionCall, public_id: object) -> ActionCall:
    """Run a claimed action against the commerce API and always finish it: the customer hears
    the outcome even when something other than the API fails. Personal values are taken from the
    vault only here, for this call."""
    await _working(public_id, True)
    try:
        try:
            async with asyncio.timeout(settings.ACTION_EXECUTION_TIMEOUT_SECONDS):
                outcome = await _attempt(action)
        except Exception:  # incl. the overall timeout: the API may or may not have applied it
            logger.exception("action %s (%s) could not be completed", action.public_id, action.tool)
            outcome = {"outcome": "unavailable", "error_code": "unavailable"}
        if "result" in outcome:
            outcome["result"] = await _result_redacted(action, outcome["result"])
        finished, pending = await call_service(action_finish, action_id=action.pk, outcome=outcome)
        await publish_collected(pending)
        return finished
    finally:
        await _working(public_id, False)


async def _attempt(action: ActionCall) -> dict[str, Any]:
    values = await db(vault_values)(conversation_id=action.conversation_id)
    args = {k: text_rehydrate(v, values) if isinstance(v, str) else v for k, v in action.arguments.items()}
    try:
        written = await _call(action.tool, args, action.idempotency_key, action.customer_id)
    except commerce.CommerceError as error:
        logger.warning("action %s (%s) failed: %s", action.public_id, action.tool, error.code)
        return {
            "outcome": "unavailable" if error.code == "unavailable" else "failed",
            "error_code": error.code,
            "http_status": error.status,
        }
    return {
        "outcome": "succeeded",
        "http_status": written.status,
        "duration_ms": written.duration_ms,
        "replayed": written.replayed,
        "result": written.body,
    }


async def _result_redacted(action: ActionCall, body: Any) -> dict[str, Any]:
    """The API's answer as stored: redacted outside the execution deadline, which bounds the API
    call (a cold worker loads the PII models here first). The change is done either way; if the
    answer cannot be redacted, it is not kept rather than kept in clear."""
    try:
        return await db(tool_result_redact)(conversation_id=action.conversation_id, data=body)
    except Exception:
        logger.exception(
            "the result of action %s (%s) could not be redacted; not stored", action.public_id, action.tool
        )
        return {}


async def _working(public_id: object, state: bool) -> None:
    """The "working on it" indicator is ephemeral: failing to show it must not stop the change."""
    try:
        await publish_bot_activity(public_id=public_id, state=state, activity="working")
    except Exception:
        logger.warning("could not publish the working indicator", exc_info=True)


async def _call(tool: str, args: dict[str, Any], key: str, customer_id: str) -> commerce.WriteOutcome:
    if tool == "cancel_order":
        return await commerce.order_cancel(number=args["order_number"], idempotency_key=key)
    if tool == "return_order":
        return await commerce.order_return(
            number=args["order_number"], reason=args.get("reason", ""), idempotency_key=key
        )
    if tool == "change_order_address":
        return await commerce.order_shipping_address_change(
            number=args["order_number"], address=args["new_address"], idempotency_key=key
        )
    if tool == "change_account_address":
        return await commerce.customer_address_change(
            customer_id=customer_id, address=args["new_address"], idempotency_key=key
        )
    raise commerce.CommerceError("validation", f"unknown action {tool}")
