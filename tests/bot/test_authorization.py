"""Authorization of the bot's tools, on the real stack: the demo shop over HTTP, the fake model
server through the real SDK, Postgres and Redis. Nobody reaches an order or an account they have
not proved is theirs, by model tool call or offline, and nothing personal from the API reaches
the model or the database in clear."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from conversations.core import commerce
from conversations.models import ActionCall
from demoshop.models import Order, ShopCustomer
from guardrails.models import PiiVaultEntry
from guardrails.services import tool_result_redact
from tests.bot_support import Chat, open_session, opened
from tests.fakes.model_server import Reply, ToolCall

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

NOT_FOUND = {"error": "not_found", "message": "No order with this number belongs to this customer."}
NEW_ADDRESS = "742 Evergreen Terrace, Springfield, IL 62704"


@pytest.fixture
def others_order(shop) -> str:
    """An order of a customer other than cust_1001 (the signed-in persona below)."""
    return Order.objects.exclude(customer__external_id="cust_1001").order_by("number").first().number


def _order_status(number: str) -> str:
    return Order.objects.get(number=number).status


def _order_snapshot(number: str) -> tuple[str, str]:
    order = Order.objects.get(number=number)
    return order.status, order.shipping_address


WRITES = {
    "cancel_order": lambda number: {"order_number": number},
    "return_order": lambda number: {"order_number": number, "reason": "too small"},
    "change_order_address": lambda number: {"order_number": number, "new_address": "<STREET_ADDRESS_1>"},
}


@pytest.mark.parametrize("tool", list(WRITES))
async def test_a_model_write_on_another_customers_order_is_refused_like_a_missing_order(
    bot_site, shop, model_server, others_order, tool
):
    before = await sync_to_async(_order_snapshot)(others_order)
    model_server.script(
        Reply(tool_calls=[ToolCall(tool, json.dumps(WRITES[tool](others_order)))]),
        Reply(text="I couldn't find that order."),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"Please change order {others_order}, ship it to {NEW_ADDRESS}")
        reply = await chat.bot_message()
    assert "action" not in reply
    assert json.loads(model_server.chat_requests()[1]["messages"][-1]["content"]) == NOT_FOUND
    assert not await sync_to_async(ActionCall.objects.exists)()
    assert await sync_to_async(_order_snapshot)(others_order) == before


@pytest.mark.parametrize(
    "request_text",
    [
        "Please cancel order {number}",
        "I want to return order {number} for a refund",
        # (Phrased so the PII detector keeps the number: "address of order SB-…" is read as a street today.)
        "Order {number} needs a new address: " + NEW_ADDRESS,
    ],
)
async def test_an_offline_write_on_another_customers_order_is_refused_like_a_missing_order(
    bot_site, shop, others_order, request_text
):
    before = await sync_to_async(_order_snapshot)(others_order)
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(request_text.format(number=others_order))
        foreign = await chat.bot_message()
        await chat.say(request_text.format(number="SB-999999"))
        missing = await chat.bot_message()
    assert "couldn't find that order" in foreign["text"] and "action" not in foreign
    assert foreign["text"] == missing["text"]
    assert not await sync_to_async(ActionCall.objects.exists)()
    assert await sync_to_async(_order_snapshot)(others_order) == before


@pytest.mark.parametrize(
    "tool",
    ["get_order", "list_my_orders", "cancel_order", "return_order", "change_order_address", "change_account_address"],
)
async def test_an_unverified_visitors_tool_calls_reach_nothing(bot_site, shop, model_server, tool):
    arguments = {
        "get_order": {"order_number": shop["shipped"]},
        "list_my_orders": {},
        "change_account_address": {"new_address": "<STREET_ADDRESS_1>"},
    }.get(tool)
    if arguments is None:
        arguments = WRITES[tool](shop["pending"] if tool != "return_order" else shop["delivered"])
    model_server.script(
        Reply(tool_calls=[ToolCall(tool, json.dumps(arguments))]),
        Reply(text="I need your order number and email first."),
    )
    async with Chat(await opened(bot_site)) as chat:
        await chat.say(f"Do it for me: {NEW_ADDRESS}")
        await chat.bot_message()
    result = json.loads(model_server.chat_requests()[1]["messages"][-1]["content"])
    assert result["error"] == "not_verified"
    assert not await sync_to_async(ActionCall.objects.exists)()
    assert await sync_to_async(_order_status)(shop["pending"]) == "pending"


async def test_an_unverified_visitor_offline_is_asked_to_verify_and_nothing_is_proposed(bot_site, shop):
    async with Chat(await opened(bot_site)) as chat:
        await chat.say(f"Please cancel order {shop['pending']}")
        reply = await chat.bot_message()
    assert "order number" in reply["text"] and "email" in reply["text"] and "action" not in reply
    assert not await sync_to_async(ActionCall.objects.exists)()


def _addresses() -> dict[str, str]:
    return dict(ShopCustomer.objects.values_list("external_id", "address"))


async def test_a_signed_in_customer_changes_their_account_address_through_the_model(bot_site, shop, model_server):
    before = await sync_to_async(_addresses)()
    model_server.script(
        Reply(tool_calls=[ToolCall("change_account_address", json.dumps({"new_address": "<STREET_ADDRESS_1>"}))])
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"My account needs a new address: {NEW_ADDRESS}")
        card = (await chat.bot_message())["action"]
        assert card["tool"] == "change_account_address" and NEW_ADDRESS in card["summary"]
        await chat.send({"type": "action", "action_id": card["action_id"], "decision": "confirm"})
        await chat.wait_for(lambda f: f["type"] == "message" and (f.get("action") or {}).get("status") == "succeeded")
    after = await sync_to_async(_addresses)()
    assert after["cust_1001"].startswith("742 Evergreen Terrace")
    assert {k: v for k, v in after.items() if k != "cust_1001"} == {k: v for k, v in before.items() if k != "cust_1001"}
    action = await sync_to_async(ActionCall.objects.get)(public_id=card["action_id"])
    assert "742 Evergreen" not in json.dumps(action.arguments) and "742 Evergreen" not in json.dumps(action.result)


async def test_a_signed_in_customer_changes_their_account_address_offline(bot_site, shop):
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"Please update my account address. New address: {NEW_ADDRESS}")
        card = (await chat.bot_message())["action"]
        assert card["tool"] == "change_account_address"
        await chat.send({"type": "action", "action_id": card["action_id"], "decision": "confirm"})
        done = await chat.wait_for(
            lambda f: f["type"] == "message" and (f.get("action") or {}).get("status") == "succeeded"
        )
    assert done["text"].startswith("Done: your account address is now")
    assert (await sync_to_async(_addresses)())["cust_1001"].startswith("742 Evergreen Terrace")


async def test_an_action_frame_with_another_conversations_action_id_gets_not_found(bot_site, shop):
    pending = shop["pending"]
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as owner:
        await owner.say(f"Please cancel order {pending}")
        card = (await owner.bot_message())["action"]
    async with Chat(await opened(bot_site, customer_id="cust_1002")) as intruder:
        await intruder.send({"type": "action", "action_id": card["action_id"], "decision": "confirm"})
        error = await intruder.wait_for(lambda f: f["type"] == "error")
    assert error["code"] == "not_found"
    action = await sync_to_async(ActionCall.objects.get)(public_id=card["action_id"])
    assert action.status == "proposed"
    assert await sync_to_async(_order_status)(pending) == "pending"


async def test_order_numbers_and_customer_ids_that_could_leave_their_path_segment_never_reach_the_api(shop, settings):
    for bad in ("../customers/cust_1001", "SB-100042/cancel", ".."):
        with pytest.raises(commerce.CommerceError) as error:
            await commerce.order_get(bad)
        assert error.value.code == "validation"
    with pytest.raises(commerce.CommerceError) as error:
        await commerce.customer_orders_list("cust_1002/../cust_1001")
    assert error.value.code == "validation"
    # Even where an operator's pattern lets odd characters through, the value stays one encoded
    # segment: "<number>?x" is not read as the order <number> with a query string.
    settings.COMMERCE_ORDER_NUMBER_PATTERN = r".+"
    with pytest.raises(commerce.CommerceError) as error:
        await commerce.order_get(f"{shop['pending']}?x=1")
    assert error.value.code == "not_found"
    assert (await commerce.order_get(shop["pending"]))["number"] == shop["pending"]


async def test_a_malformed_order_number_from_the_model_is_an_argument_error(bot_site, shop, model_server):
    escape = json.dumps({"order_number": "../customers/cust_1002"})
    model_server.script(Reply(tool_calls=[ToolCall("get_order", escape)]), Reply(text="Which order number?"))
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say("where is my order")
        await chat.bot_message()
    assert json.loads(model_server.chat_requests()[1]["messages"][-1]["content"])["error"] == "invalid_arguments"


def test_every_string_leaf_of_a_tool_result_is_redacted_whatever_its_key(bot_site):
    conversation = open_session(bot_site).conversation
    result = tool_result_redact(
        conversation_id=conversation.pk,
        data={
            "order": {
                "number": "SB-100042",
                "status": "shipped",
                "total": "338.00",
                "tracking_number": "1Z8420937718263541",
                "shipping_address": "512 Juniper Lane, Portland, OR 97205",
                "gift_note": "Call Jane Doe at 555-201-3344 when it arrives",
                "contact": {"work_email": "jane.doe@example.com", "ips": ["203.0.113.9"]},
                "billing": {"address": {"street": "9 Canal Way", "city": "Austin"}},
                "items": [{"sku": "JKT-RAIN-M", "name": "Stormshell rain jacket (M)", "quantity": 1}],
            }
        },
    )
    text = json.dumps(result)
    for raw in ("Juniper", "Jane Doe", "555-201-3344", "jane.doe@example.com", "203.0.113.9", "Canal Way", "Austin"):
        assert raw not in text
    order = result["order"]
    assert order["gift_note"].endswith("when it arrives") and "<PHONE_NUMBER_" in order["gift_note"]
    assert order["contact"]["work_email"].startswith("<EMAIL_ADDRESS_")
    assert order["billing"]["address"]["city"].startswith("<STREET_ADDRESS_")
    # What support needs in clear stays: ids, amounts, tracking, and product names (not people).
    assert (order["number"], order["total"], order["tracking_number"]) == ("SB-100042", "338.00", "1Z8420937718263541")
    assert order["items"][0]["name"] == "Stormshell rain jacket (M)"
    assert PiiVaultEntry.objects.filter(conversation_id=conversation.pk, entity_type="EMAIL_ADDRESS").count() == 1
