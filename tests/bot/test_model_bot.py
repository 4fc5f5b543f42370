"""The bot against an OpenAI-compatible endpoint: the fake model server (real HTTP, SSE streaming,
scripted tool calls, request capture) reached through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from conversations.flows.messages import agent_message_post
from conversations.models import ActionAttempt, Conversation, Message, ModelCall
from demoshop.models import Order
from guardrails.models import GuardrailEvent
from tests.bot_support import Chat, opened
from tests.fakes.model_server import Reply, ToolCall

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


async def test_it_streams_a_grounded_answer_with_a_citation_and_records_usage(bot_site, articles, model_server):
    model_server.script(
        Reply(
            text="You can return delivered items within 30 days for a full refund [1].",
            prompt_tokens=420,
            completion_tokens=16,
            seconds_per_token=0.03,
        )
    )
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("How long do I have to send something back? I'm Jane Doe, jane.doe@example.com")
        reply = await chat.bot_message()
    deltas = chat.deltas()
    assert len(deltas) > 3 and "".join(d["text"] for d in deltas) == reply["text"]
    assert reply["citations"][0]["title"] == "Returns and refunds"

    request = model_server.chat_requests()[0]
    assert request["model"] == "fake-model" and request["stream"] is True
    prompt = json.dumps(request)
    assert "return delivered items within 30 days" in prompt and "untrusted" in prompt
    assert "jane.doe@example.com" not in prompt and "Jane Doe" not in prompt
    assert "<EMAIL_ADDRESS_1>" in prompt and "<PERSON_1>" in prompt
    assert {t["function"]["name"] for t in request["tools"]} >= {"get_order", "return_order", "handoff_to_human"}

    call = await sync_to_async(ModelCall.objects.get)(conversation_id=session.conversation.pk)
    assert (call.prompt_tokens, call.completion_tokens, call.outcome, call.prompt_version) == (
        420,
        16,
        "ok",
        "support-v4",
    )
    assert call.ttft_ms is not None and call.ttft_ms <= call.total_ms
    stored = await sync_to_async(Message.objects.get)(conversation_id=session.conversation.pk, role="bot")
    assert stored.extras["usage"]["prompt_tokens"] == 420 and stored.extras["prompt_version"] == "support-v4"


async def test_it_looks_up_an_order_through_a_tool_for_its_owner(bot_site, shop, model_server):
    shipped = shop["shipped"]
    model_server.script(
        Reply(tool_calls=[ToolCall("get_order", json.dumps({"order_number": shipped}))]),
        Reply(text=f"Your order {shipped} is on its way with UPS."),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"where is {shipped}?")
        reply = await chat.bot_message()
        working = [f for f in chat.frames if f["type"] == "typing" and f.get("activity") == "working"]
    assert reply["text"] == f"Your order {shipped} is on its way with UPS."
    assert working and working[0]["state"] is True
    tool_message = model_server.chat_requests()[1]["messages"][-1]
    assert tool_message["role"] == "tool" and '"status": "shipped"' in tool_message["content"]
    # The order's address went to the model as a placeholder only.
    address = await sync_to_async(lambda: Order.objects.get(number=shipped).shipping_address)()
    assert address not in tool_message["content"] and "<STREET_ADDRESS_" in tool_message["content"]


async def test_a_model_proposed_refund_runs_once_after_confirmation(bot_site, shop, model_server):
    delivered = shop["delivered"]
    model_server.script(
        Reply(text="I can do that.", tool_calls=[ToolCall("return_order", json.dumps({"order_number": delivered}))])
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"Refund {delivered} please, the boots don't fit")
        card = (await chat.bot_message())["action"]
        for _ in range(3):
            await chat.send({"type": "action", "action_id": card["action_id"], "decision": "confirm"})
        await chat.wait_for(lambda f: f["type"] == "message" and (f.get("action") or {}).get("status") == "succeeded")
    assert await sync_to_async(lambda: Order.objects.get(number=delivered).status)() == "returned"
    assert await sync_to_async(ActionAttempt.objects.count)() == 1
    assert len(model_server.chat_requests()) == 1  # a proposal ends the turn: the customer decides next


async def test_another_customers_order_is_refused_like_a_missing_one(bot_site, shop, model_server):
    other = await sync_to_async(lambda: Order.objects.exclude(customer__external_id="cust_1001").first().number)()
    model_server.script(
        Reply(tool_calls=[ToolCall("get_order", json.dumps({"order_number": other}))]),
        Reply(text="I couldn't find that order."),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"status of {other}?")
        await chat.bot_message()
    tool_result = model_server.chat_requests()[1]["messages"][-1]["content"]
    assert json.loads(tool_result) == {
        "error": "not_found",
        "message": "No order with this number belongs to this customer.",
    }


@pytest.mark.parametrize("failure", [Reply(status=500), Reply(status=429), Reply(delay_seconds=3.0)])
async def test_a_failing_model_falls_back_to_the_offline_answer_in_bounded_time(
    bot_site, articles, model_server, settings, failure
):
    settings.LLM_MAX_RETRIES = 0
    model_server.script(failure, failure)
    started = time.monotonic()
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("How long do I have to return something for a refund?")
        reply = await chat.bot_message(timeout=15)
    assert time.monotonic() - started < 8
    assert "30 days" in reply["text"] and reply["citations"][0]["title"] == "Returns and refunds"


async def test_a_retry_then_the_fallback_model_answer_before_going_offline(bot_site, articles, model_server, settings):
    settings.LLM_MAX_RETRIES = 1
    settings.LLM_FALLBACK_MODEL = "fake-fallback"
    model_server.script(Reply(status=503), Reply(status=503), Reply(text="From the fallback [1]."))
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("How long do I have to return something for a refund?")
        reply = await chat.bot_message()
    assert reply["text"] == "From the fallback [1]."
    assert [r["model"] for r in model_server.chat_requests()] == ["fake-model", "fake-model", "fake-fallback"]


async def test_the_circuit_opens_after_repeated_failures_and_skips_the_model(
    bot_site, articles, model_server, settings
):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_CIRCUIT_FAILURES = 2
    model_server.default_reply = lambda body: Reply(status=500)
    async with Chat(await opened(bot_site)) as chat:
        for _ in range(3):
            await chat.say("How long do I have to return something for a refund?")
            reply = await chat.bot_message()
            assert "30 days" in reply["text"]
    assert len(model_server.chat_requests()) == 2


async def test_malformed_tool_arguments_go_back_to_the_model_as_an_error(bot_site, shop, model_server):
    model_server.script(
        Reply(tool_calls=[ToolCall("get_order", '{"order_number": ')]),
        Reply(text="Could you give me the order number again?"),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say("where's my stuff")
        reply = await chat.bot_message()
    assert reply["text"] == "Could you give me the order number again?"
    assert json.loads(model_server.chat_requests()[1]["messages"][-1]["content"])["error"] == "invalid_arguments"


async def test_the_tool_loop_is_capped_and_hands_off(bot_site, shop, model_server, settings):
    settings.BOT_MAX_TOOL_ITERATIONS = 3
    model_server.default_reply = lambda body: Reply(tool_calls=[ToolCall("list_my_orders", "{}")])
    session = await opened(bot_site, customer_id="cust_1001")
    async with Chat(session) as chat:
        await chat.say("what did I order?")
        reply = await chat.bot_message()
    assert "bringing in a person" in reply["text"]
    assert len(model_server.chat_requests()) == 3
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert (conversation.status, conversation.handoff_reason) == ("queued", "unsupported_request")


@pytest.mark.parametrize("leak", ["system", "pii"])
async def test_output_checks_replace_a_leaking_reply(bot_site, articles, model_server, leak):
    def leaking(body):
        system = body["messages"][0]["content"]
        canary = system.rsplit(": ", 1)[-1]
        text = f"My marker is {canary}." if leak == "system" else "Sure, write to ceo.private@example.org about it."
        return Reply(text=text)

    model_server.default_reply = leaking
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("How long do I have to return something for a refund?")
        reply = await chat.bot_message()
    assert reply["text"].startswith("Sorry, I can't share that answer")
    event = await sync_to_async(GuardrailEvent.objects.get)(kind="output_blocked")
    assert event.detail["reasons"] == (["canary_leaked"] if leak == "system" else ["pii_email_address"])


async def test_the_bot_stays_silent_when_a_human_takes_over_during_its_turn(bot_site, articles, model_server, alice):
    model_server.script(Reply(text="You can return items within 30 days [1].", delay_seconds=1.5))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("How long do I have to return something for a refund?")
        await asyncio.sleep(0.5)
        await sync_to_async(agent_message_post)(
            conversation_id=session.conversation.pk, agent=alice, text="Hi, Alice here, let me help you."
        )
        await chat.wait_for(lambda f: f["type"] == "message" and f["role"] == "agent")
        await asyncio.sleep(2.0)
    roles = await sync_to_async(
        lambda: list(Message.objects.filter(conversation_id=session.conversation.pk).values_list("role", flat=True))
    )()
    assert "bot" not in roles


async def test_the_second_miss_in_a_row_tells_the_model_to_announce_the_person(bot_site, articles, model_server):
    model_server.script(
        Reply(text="I don't know that, sorry. Would you like me to bring in a person?"),
        Reply(text="I can't find that either, so I'm bringing in a person from our team."),
    )
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("Can I bring my parrot to your flagship store's cafe?")
        await chat.bot_message()
        await chat.say("What is the airspeed velocity of an unladen swallow?")
        await chat.bot_message()
        await chat.wait_for(lambda f: f["type"] == "status" and f["conversation_status"] == "queued")
    first, second = (json.dumps(r["messages"]) for r in model_server.chat_requests())
    assert "bringing in a person" not in first
    assert "bringing in a person" in second and "do not ask whether" in second


async def test_small_talk_with_the_model_is_no_miss_and_never_hands_off(bot_site, articles, model_server):
    """Two misses in a row hand the conversation to a person; a greeting and a thanks, which ask
    the articles nothing, are no misses (they were, with a model, and "hi" + "ok thanks" queued
    the conversation for a person with "missing knowledge")."""
    model_server.script(Reply(text="Hi! How can I help you today?"), Reply(text="You're welcome!"))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("hi there")
        await chat.bot_message()
        await chat.say("ok thanks")
        await chat.bot_message()
    # a miss-streak handoff is requested in the transaction that posts the reply (turn_output_post)
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert conversation.status == Conversation.Status.BOT and not conversation.handoff_reason
    answered = await sync_to_async(
        lambda: [m.extras["answered"] for m in Message.objects.filter(conversation=conversation, role="bot")]
    )()
    assert answered == [True, True]


async def test_an_uncited_model_reply_to_a_question_it_could_not_find_offers_the_closest_articles(
    bot_site, articles, model_server
):
    model_server.script(Reply(text="I'm sorry, I don't know what that costs."))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("how much does express shipping to the moon cost?")  # loosely related: 0.40
        reply = await chat.bot_message()
    assert [r["title"] for r in reply.get("related") or []][:1] == ["Shipping times"]
    stored = await sync_to_async(Message.objects.get)(conversation_id=session.conversation.pk, role="bot")
    assert stored.extras["answered"] is False


async def test_thanks_after_a_miss_does_not_tell_the_model_to_announce_a_person(bot_site, articles, model_server):
    model_server.script(Reply(text="I don't know that, sorry."), Reply(text="You're welcome!"))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("Can I bring my parrot to your flagship store's cafe?")
        await chat.bot_message()
        await chat.say("ok thanks")
        await chat.bot_message()
    second = json.dumps(model_server.chat_requests()[1]["messages"])
    assert "bringing in a person" not in second
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert conversation.status == Conversation.Status.BOT


async def test_a_cited_model_reply_counts_as_answered_even_below_the_threshold(bot_site, articles, model_server):
    model_server.script(Reply(text="Express orders placed before 2 pm ship the same day [1]."))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("how much does express shipping to the moon cost?")  # below the threshold: 0.40
        reply = await chat.bot_message()
    assert reply["citations"][0]["title"] == "Shipping times" and not reply.get("related")
    stored = await sync_to_async(Message.objects.get)(conversation_id=session.conversation.pk, role="bot")
    assert stored.extras["answered"] is True


async def test_the_model_sees_its_own_latest_reply(bot_site, articles, model_server):
    model_server.script(Reply(text="Standard shipping takes 3 to 5 business days [1]."), Reply(text="1-2 days [1]."))
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("How long does standard shipping take?")
        await chat.bot_message()
        await chat.say("and for express?")
        await chat.bot_message()
    second = model_server.chat_requests()[1]["messages"]
    assert [m["content"] for m in second if m["role"] == "assistant"] == [
        "Standard shipping takes 3 to 5 business days [1]."
    ]
