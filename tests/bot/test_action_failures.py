"""A confirmed change when the company's API misbehaves (the answer lost on the way back, or no
answer at all) or the process running it dies. A refusal: tests/handoff/test_triggers.py. The demo shop serves the API over real HTTP; a proxy in front of it
loses answers (tests/fakes/answer_dropping_proxy.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.bot.actions import action_decide, action_propose
from conversations.bot.tasks import recover_stalled_actions
from conversations.models import ActionAttempt, ActionCall, Handoff, Message
from demoshop.models import IdempotentResponse, Order
from tests.bot_support import Chat, open_session, opened
from tests.conftest import start_celery_worker, stop
from tests.fakes.answer_dropping_proxy import AnswerDroppingProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _outcome(status: str):
    return lambda f: f["type"] == "message" and (f.get("action") or {}).get("status") == status


async def _confirm_return(chat: Chat, number: str) -> dict:
    await chat.say(f"I want to return order {number} for a refund")
    card = (await chat.bot_message())["action"]
    await chat.send({"type": "action", "action_id": card["action_id"], "decision": "confirm"})
    return card


def _order_state(number: str) -> tuple[str, bool]:
    order = Order.objects.get(number=number)
    return order.status, order.refunded_amount == order.total


async def test_a_write_whose_answer_was_lost_is_sent_again_with_the_same_key_and_applied_once(bot_site, shop, settings):
    with AnswerDroppingProxy(settings.COMMERCE_API_URL, drop_posts=1) as proxy:
        settings.COMMERCE_API_URL = proxy.url
        async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
            card = await _confirm_return(chat, shop["delivered"])
            done = await chat.wait_for(_outcome("succeeded"))
    assert done["text"].startswith("Done:")
    assert (proxy.posts, proxy.dropped) == (2, 1)
    assert await sync_to_async(_order_state)(shop["delivered"]) == ("returned", True)
    assert await sync_to_async(IdempotentResponse.objects.count)() == 1
    action = await sync_to_async(ActionCall.objects.get)(public_id=card["action_id"])
    attempts = await sync_to_async(
        lambda: list(ActionAttempt.objects.filter(action=action).values_list("outcome", "replayed"))
    )()
    assert attempts == [("succeeded", True)]  # the answer came from the API's replay of the first


async def test_a_write_that_never_gets_an_answer_goes_to_a_person_as_unconfirmed(bot_site, shop, settings):
    with AnswerDroppingProxy(settings.COMMERCE_API_URL, drop_posts=99) as proxy:
        settings.COMMERCE_API_URL = proxy.url
        async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
            card = await _confirm_return(chat, shop["delivered"])
            failed = await chat.wait_for(_outcome("failed"))
            await chat.wait_for(lambda f: f["type"] == "status" and f["conversation_status"] == "queued")
    # It did go through on the first try, so the customer must not be told "nothing changed".
    assert "can't be sure" in failed["text"] and "nothing was changed" not in failed["text"]
    assert proxy.posts == 3
    assert await sync_to_async(_order_state)(shop["delivered"]) == ("returned", True)
    assert await sync_to_async(IdempotentResponse.objects.count)() == 1
    action = await sync_to_async(ActionCall.objects.get)(public_id=card["action_id"])
    assert (action.status, action.error_code) == ("failed", "unavailable")
    reasons = await sync_to_async(lambda: list(Handoff.objects.values_list("reason", flat=True)))()
    assert reasons == ["tool_failure"]


async def test_a_change_that_outlives_its_deadline_is_finished_as_unconfirmed(bot_site, shop, settings):
    settings.ACTION_EXECUTION_TIMEOUT_SECONDS = 1.0  # shorter than the pauses between retries
    with AnswerDroppingProxy(settings.COMMERCE_API_URL, drop_posts=99) as proxy:
        settings.COMMERCE_API_URL = proxy.url
        async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
            await _confirm_return(chat, shop["delivered"])
            failed = await chat.wait_for(_outcome("failed"), timeout=10)
    assert "can't be sure" in failed["text"]
    assert proxy.posts < 3


def test_a_change_whose_process_died_mid_call_is_finished_by_the_worker_exactly_once(
    bot_site, shop, settings, tmp_path
):
    delivered = shop["delivered"]
    session = open_session(bot_site, customer_id="cust_1001")
    conversation_id = session.conversation.pk
    proposal = action_propose(
        conversation_id=conversation_id,
        tool="return_order",
        arguments={"order_number": delivered, "reason": ""},
        summary=f"Return order {delivered}",
        customer_id="cust_1001",
    )
    assert action_decide(conversation_id=conversation_id, action_id=str(proposal.public_id), decision="confirm").execute
    # The process that claimed it sent the write (the shop applied it), then died before the
    # answer came back: the action is left executing, and its lease runs out.
    sent = httpx.post(
        f"{settings.COMMERCE_API_URL}/orders/{delivered}/returns",
        json={"reason": ""},
        headers={"Authorization": f"Bearer {settings.COMMERCE_API_KEY}", "Idempotency-Key": proposal.idempotency_key},
    )
    assert sent.status_code == 200
    ActionCall.objects.filter(pk=proposal.pk).update(execution_lease_until=timezone.now() - timedelta(seconds=1))

    worker = start_celery_worker(
        tmp_path / "worker.log",
        name="action-recovery",
        COMMERCE_API_URL=settings.COMMERCE_API_URL,
        COMMERCE_API_KEY=settings.COMMERCE_API_KEY,
    )
    try:
        recover_stalled_actions.delay()
        recover_stalled_actions.delay()  # a second sweep at the same moment finds nothing to take
        deadline = time.monotonic() + 90
        while ActionCall.objects.get(pk=proposal.pk).status == "executing":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
    finally:
        stop(worker)
    action = ActionCall.objects.get(pk=proposal.pk)
    assert action.status == "succeeded"
    assert list(ActionAttempt.objects.filter(action=action).values_list("outcome", "replayed")) == [("succeeded", True)]
    assert _order_state(delivered) == ("returned", True)
    assert IdempotentResponse.objects.count() == 1
    told = Message.objects.filter(conversation_id=conversation_id, role="bot", text__startswith="Done:")
    assert told.count() == 1 and told.get().extras["action"]["status"] == "succeeded"
