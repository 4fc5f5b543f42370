"""Order number + email verification cannot be guessed, and unlocks only what it proved: on the
real stack (the demo shop over HTTP, the fake model server through the real SDK, Postgres, Redis),
through the offline responder and through model tool calls."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.handoff.resolution import conversation_resolve
from conversations.models import ActionCall, Conversation
from demoshop.models import Order
from guardrails.models import GuardrailEvent
from tests.bot_support import Chat, opened
from tests.fakes.model_server import Reply, ToolCall

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

NOT_VERIFIED = {
    "error": "not_verified",
    "message": "The customer is not verified. Ask for the order number and the email address used for "
    "the order, then call verify_identity.",
}


def _email(number: str) -> str:
    return Order.objects.get(number=number).customer.email


def _events(kind: str) -> list[dict]:
    return list(GuardrailEvent.objects.filter(kind=kind).order_by("pk").values("conversation_id", "action", "detail"))


def _verification(conversation_id: int) -> tuple[str, str, object]:
    c = Conversation.objects.get(pk=conversation_id)
    return c.verified_customer_id, c.verified_order_number, c.verified_until


def chat_from(session, ip: str) -> Chat:
    """A widget socket whose peer address is `ip` (TRUSTED_PROXY_COUNT=0: the socket's peer counts)."""
    chat = Chat(session)
    chat.comm.scope["client"] = (ip, 50123)
    return chat


async def _try(site, ip: str, number: str, email: str) -> tuple[int, dict]:
    """An anonymous visitor asks to cancel `number`, giving `email`; returns the conversation and the reply."""
    session = await opened(site)
    async with chat_from(session, ip) as chat:
        await chat.say(f"Please cancel order {number}, my email is {email}")
        reply = await chat.bot_message()
    return session.conversation.pk, reply


# Offline --------------------------------------------------------------------------------------


async def test_a_failed_verification_unlocks_nothing_and_is_recorded_without_the_email(bot_site, shop):
    pending = shop["pending"]
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("Please cancel my order")
        await chat.bot_message()
        await chat.say(f"It's {pending}, and my email is someone.else@example.com")
        reply = await chat.bot_message()
    assert "don't match" in reply["text"] and "action" not in reply
    assert await sync_to_async(_verification)(session.conversation.pk) == ("", "", None)
    assert not await sync_to_async(ActionCall.objects.exists)()
    [failed] = await sync_to_async(_events)("verification_failed")
    assert failed["conversation_id"] == session.conversation.pk and failed["action"] == "rejected"
    assert failed["detail"]["order_number"] == pending and failed["detail"]["failures"]["conversation"] == 1
    assert "example.com" not in json.dumps(failed["detail"])


async def test_verification_locks_after_the_allowed_failures_and_hands_the_conversation_to_a_person(
    bot_site, shop, settings
):
    settings.VERIFY_MAX_FAILURES = 2
    pending = shop["pending"]
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say(f"Please cancel order {pending}, my email is guess.one@example.com")
        first = await chat.bot_message()
        await chat.say(f"Then it's guess.two@example.com for {pending}")
        second = await chat.bot_message()
        status = await chat.wait_for(lambda f: f["type"] == "status")
    assert "don't match" in first["text"]
    assert "bringing in a person" in second["text"] and status["conversation_status"] == "queued"
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert conversation.handoff_reason == "usage_limit" and conversation.verified_customer_id == ""
    assert len(await sync_to_async(_events)("verification_failed")) == 2
    [locked] = await sync_to_async(_events)("verification_locked")
    assert locked["action"] == "locked"
    assert locked["detail"] == {"order_number": pending, "scopes": ["conversation"], "newly_locked": True}


async def test_the_order_lock_holds_for_every_conversation_and_network(bot_site, shop, settings):
    settings.VERIFY_MAX_FAILURES_PER_ORDER = 2
    pending = shop["pending"]
    await _try(bot_site, "198.51.100.1", pending, "guess.one@example.com")
    _, second = await _try(bot_site, "198.51.100.2", pending, "guess.two@example.com")
    assert "bringing in a person" in second["text"]
    # The owner's right email, from a third network: still locked, nothing unlocked.
    third, reply = await _try(bot_site, "198.51.100.3", pending, await sync_to_async(_email)(pending))
    assert "bringing in a person" in reply["text"] and "action" not in reply
    assert await sync_to_async(_verification)(third) == ("", "", None)
    locks = await sync_to_async(_events)("verification_locked")
    assert [(e["detail"]["scopes"], e["detail"]["newly_locked"]) for e in locks] == [
        (["order"], True),
        (["order"], False),
    ]
    assert locks[-1]["conversation_id"] == third


async def test_the_ip_lock_counts_an_ipv6_slash_64_as_one_network(bot_site, shop, settings):
    settings.VERIFY_MAX_FAILURES_PER_IP = 2
    await _try(bot_site, "2001:db8:5:6::1", shop["pending"], "guess.one@example.com")
    _, second = await _try(bot_site, "2001:db8:5:6::2", shop["processed"], "guess.two@example.com")
    assert "bringing in a person" in second["text"]
    delivered = shop["delivered"]
    email = await sync_to_async(_email)(delivered)
    same_network, locked = await _try(bot_site, "2001:db8:5:6:ffff::3", delivered, email)
    assert "bringing in a person" in locked["text"]
    assert await sync_to_async(_verification)(same_network) == ("", "", None)
    pending = shop["pending"]
    other_network, verified = await _try(bot_site, "2001:db8:5:7::1", pending, await sync_to_async(_email)(pending))
    assert "you're verified" in verified["text"] and verified["action"]["tool"] == "cancel_order"
    customer_id, number, until = await sync_to_async(_verification)(other_network)
    assert (customer_id, number) == ("cust_1001", pending)
    assert (
        timedelta(minutes=settings.VERIFY_TTL_MINUTES - 1)
        < until - timezone.now()
        <= timedelta(minutes=settings.VERIFY_TTL_MINUTES)
    )
    assert [e["detail"]["scopes"] for e in await sync_to_async(_events)("verification_locked")] == [["ip"], ["ip"]]


async def test_resolving_clears_the_verification_and_a_reopened_conversation_asks_again(bot_site, shop, alice):
    pending = shop["pending"]
    session = await opened(bot_site)
    conversation_id = session.conversation.pk
    async with Chat(session) as chat:
        await chat.say(f"Please cancel order {pending}, my email is {await sync_to_async(_email)(pending)}")
        assert "you're verified" in (await chat.bot_message())["text"]
    assert (await sync_to_async(_verification)(conversation_id))[1] == pending

    await sync_to_async(conversation_resolve)(conversation_id=conversation_id, agent=alice)
    assert await sync_to_async(_verification)(conversation_id) == ("", "", None)

    # Even a verification left on a resolved conversation (resolved some other way) ends when the
    # customer writes again and the conversation reopens.
    await sync_to_async(Conversation.objects.filter(pk=conversation_id).update)(
        verified_customer_id="cust_1001",
        verified_order_number=pending,
        verified_until=timezone.now() + timedelta(minutes=10),
    )
    async with Chat(session) as chat:
        await chat.say(f"Where is my order {pending}?")
        again = await chat.bot_message()
    assert "order number" in again["text"] and "email" in again["text"] and pending not in again["text"]
    assert await sync_to_async(_verification)(conversation_id) == ("", "", None)


# Model tool calls ------------------------------------------------------------------------------


def _two_guesses(number: str, *, same_round: bool):
    """A model that tries two emails for `number`: both in one round, or one per round."""

    def reply(body: dict) -> Reply:
        messages = body["messages"]
        tools_done = sum(1 for m in messages if m["role"] == "tool")
        question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        emails = re.findall(r"<EMAIL_ADDRESS_\d+>", question)

        def call(email: str) -> ToolCall:
            return ToolCall("verify_identity", json.dumps({"order_number": number, "email": email}))

        if same_round:
            return Reply(tool_calls=[call(emails[0]), call(emails[1])]) if tools_done == 0 else Reply(text="Sorry.")
        if tools_done < 2:
            return Reply(tool_calls=[call(emails[tools_done])])
        return Reply(text="Sorry.")

    return reply


@pytest.mark.parametrize("same_round", [True, False], ids=["same-round", "next-round"])
async def test_only_one_verification_runs_per_turn(bot_site, shop, model_server, same_round):
    pending = shop["pending"]
    model_server.default_reply = _two_guesses(pending, same_round=same_round)
    email = await sync_to_async(_email)(pending)
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say(f"Order {pending}. My email is wrong.guess@example.com, or maybe {email}")
        await chat.bot_message()
    last = model_server.chat_requests()[-1]["messages"]
    results = [json.loads(m["content"]) for m in last if m["role"] == "tool"]
    assert results[0]["verified"] is False
    assert results[1]["error"] == "one_verification_per_turn"
    assert await sync_to_async(_verification)(session.conversation.pk) == ("", "", None)
    assert len(await sync_to_async(_events)("verification_failed")) == 1


async def test_tool_calls_beyond_the_per_round_cap_are_answered_but_not_run(bot_site, shop, model_server, settings):
    settings.BOT_MAX_TOOL_CALLS_PER_ROUND = 2
    calls = [
        ToolCall("return_order", json.dumps({"order_number": shop["delivered"]})),
        ToolCall("cancel_order", json.dumps({"order_number": shop["pending"]})),
        ToolCall("cancel_order", json.dumps({"order_number": shop["processed"]})),
        ToolCall(
            "change_order_address", json.dumps({"order_number": shop["processed"], "new_address": "<STREET_ADDRESS_1>"})
        ),
    ]
    model_server.script(Reply(tool_calls=calls))  # each of the four could be proposed
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say("return, cancel and redirect everything: 742 Evergreen Terrace, Springfield, IL 62704")
        await chat.bot_message()
    proposed = await sync_to_async(lambda: sorted(ActionCall.objects.values_list("tool", "arguments__order_number")))()
    assert proposed == sorted([("return_order", shop["delivered"]), ("cancel_order", shop["pending"])])


async def test_tool_results_of_calls_past_the_cap_tell_the_model_they_were_not_run(
    bot_site, shop, model_server, settings
):
    settings.BOT_MAX_TOOL_CALLS_PER_ROUND = 2
    numbers = [shop[s] for s in ("pending", "processed", "shipped", "delivered")]
    model_server.script(
        Reply(tool_calls=[ToolCall("get_order", json.dumps({"order_number": n})) for n in numbers]),
        Reply(text="Here they are."),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say("status of all my orders?")
        await chat.bot_message()
    results = [json.loads(m["content"]) for m in model_server.chat_requests()[1]["messages"] if m["role"] == "tool"]
    assert [r["order"]["number"] for r in results[:2]] == numbers[:2]
    assert [r["error"] for r in results[2:]] == ["too_many_tool_calls", "too_many_tool_calls"]


def _verify_then(number: str, calls: list[ToolCall]):
    """Turn 1: verify for `number` with the customer's email placeholder. Turn 2: `calls`."""

    def reply(body: dict) -> Reply:
        messages = body["messages"]
        if messages[-1]["role"] == "tool":
            return Reply(text="Done looking.")
        users = [m for m in messages if m["role"] == "user"]
        if len(users) == 1:
            email = re.search(r"<EMAIL_ADDRESS_\d+>", users[0]["content"]).group(0)
            return Reply(tool_calls=[ToolCall("verify_identity", json.dumps({"order_number": number, "email": email}))])
        return Reply(tool_calls=calls)

    return reply


async def test_a_verification_unlocks_only_the_order_it_proved(bot_site, shop, model_server, settings):
    settings.BOT_MAX_TOOL_CALLS_PER_ROUND = 4
    pending, shipped = shop["pending"], shop["shipped"]  # both cust_1001's
    model_server.default_reply = _verify_then(
        pending,
        [
            ToolCall("get_order", json.dumps({"order_number": shipped})),
            ToolCall("list_my_orders", "{}"),
            ToolCall("get_order", json.dumps({"order_number": pending})),
        ],
    )
    async with Chat(await opened(bot_site)) as chat:
        await chat.say(f"Order {pending}, my email is {await sync_to_async(_email)(pending)}")
        await chat.bot_message()
        await chat.say("What about my other orders?")
        await chat.bot_message()
    other, listed, mine = [
        json.loads(m["content"]) for m in model_server.chat_requests()[-1]["messages"] if m["role"] == "tool"
    ][-3:]
    assert other["error"] == "not_verified" and f"verified for order {pending} only" in other["message"]
    assert [o["number"] for o in listed["orders"]] == [pending]
    assert mine["order"]["number"] == pending


async def test_a_verification_by_order_cannot_change_the_account_address(bot_site, shop, model_server):
    pending = shop["pending"]
    model_server.default_reply = _verify_then(
        pending, [ToolCall("change_account_address", json.dumps({"new_address": "<STREET_ADDRESS_1>"}))]
    )
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say(f"Order {pending}, my email is {await sync_to_async(_email)(pending)}")
        await chat.bot_message()
        await chat.say("My account needs a new address: 742 Evergreen Terrace, Springfield, IL 62704")
        reply = await chat.bot_message()
    assert "action" not in reply and "bringing in a person" in reply["text"]
    assert not await sync_to_async(ActionCall.objects.exists)()
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert (conversation.status, conversation.handoff_reason) == ("queued", "policy_restriction")


async def test_a_verification_expires(bot_site, shop, model_server):
    pending = shop["pending"]
    model_server.default_reply = _verify_then(pending, [ToolCall("get_order", json.dumps({"order_number": pending}))])
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say(f"Order {pending}, my email is {await sync_to_async(_email)(pending)}")
        await chat.bot_message()
        assert (await sync_to_async(_verification)(session.conversation.pk))[1] == pending
        await sync_to_async(Conversation.objects.filter(pk=session.conversation.pk).update)(
            verified_until=timezone.now() - timedelta(seconds=1)
        )
        await chat.say("And where is it now?")
        await chat.bot_message()
    last_tool = [m for m in model_server.chat_requests()[-1]["messages"] if m["role"] == "tool"][-1]
    assert json.loads(last_tool["content"]) == NOT_VERIFIED


async def test_offline_a_visitor_verified_for_one_order_can_verify_another_of_theirs(bot_site, shop):
    """The verification for order A reaches only A; sending order B with the email verifies B
    (before, the offline responder thought the visitor verified and asked again forever)."""
    first, second = shop["pending"], shop["shipped"]
    email = await sync_to_async(_email)(first)
    session = await opened(bot_site)
    async with chat_from(session, "198.51.100.7") as chat:
        await chat.say(f"Please cancel order {first}, my email is {email}")
        assert (await chat.bot_message())["action"]["status"] == "proposed"
        await chat.say(f"and where is {second}? {email}")
        reply = await chat.bot_message()
    assert second in reply["text"] and "tracking number" in reply["text"]
    assert (await sync_to_async(_verification)(session.conversation.pk))[1] == second
