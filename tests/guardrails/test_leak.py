"""The leak test: a labelled PII corpus (the support-chat test split shipped in
guardrails/pii/devsets/, so it needs no shared data and never changes under it) goes through the real
protocol and the real pipeline (redaction, bot turns against the fake model server, a tool call to
the demo shop, an agent reply); then every text and JSON column of the database, the captured
logs, the Celery messages waiting in Redis and every request the model server received are
scanned for the raw values. The demo shop's own tables are not scanned: they stand for the
company's system, which holds its customers' data by definition.

It checks the pipeline, not the detector: a value the detector does not find even on its own
(measured here, and by `manage.py pii_eval`) cannot be expected to be redacted, so those values
are listed and bounded, and every other value must appear nowhere.
"""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from conversations.flows.messages import agent_message_post
from demoshop.models import ShopCustomer
from guardrails.pii.devsets.support_chat import load
from guardrails.redaction import text_redact_anonymously
from tests.bot_support import Chat, opened
from tests.fakes.model_server import Reply, ToolCall

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

TARGET_LABELS = {
    "PERSON",
    "STREET_ADDRESS",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
    "PASSPORT",
    "NATIONAL_ID",
}
SAMPLES = 48
# The bot hands a conversation to a person after two answers without a source, so two per conversation.
PER_CONVERSATION = 2
MAX_DETECTOR_MISSES = 0.1


def _corpus() -> tuple[list[str], set[str], set[str]]:
    """Texts, the values that must not leak, and the values the detector misses on its own."""
    texts, values, misses = [], set(), set()
    # Messages with personal data only: the split's clean messages have nothing to leak.
    for sample in [s for s in load("test") if s["spans"]][:SAMPLES]:
        texts.append(sample["full_text"])
        redacted = text_redact_anonymously(text=sample["full_text"]).text
        for span in sample["spans"]:
            value = span["entity_value"].strip()
            if span["entity_type"] not in TARGET_LABELS or len(value) < 5:
                continue  # a two-letter state or a bare number is not findable as a leak
            (misses if value in redacted else values).add(value)
    return texts, values - misses, misses


def _database_text() -> str:
    """Every text, varchar and JSON value of every table but the demo shop's, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json')
              AND table_name NOT LIKE 'demoshop\\_%%'
        """)
        for table, column in cursor.fetchall():
            cursor.execute(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')
            chunks.extend(f"{table}.{column}: {row[0]}" for row in cursor.fetchall())
    return "\n".join(chunks)


def _broker_messages() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for key in client.keys("*"):
        if client.type(key) != b"list":
            continue
        for raw in client.lrange(key, 0, -1):
            found.append(raw.decode("utf-8", "replace"))
            try:
                body = json.loads(raw)["body"]
                found.append(base64.b64decode(body).decode("utf-8", "replace"))
            except (ValueError, KeyError, TypeError):
                pass
    return "\n".join(found)


def _findings(values: set[str], surface: str) -> list[str]:
    # Whole-word matches: the first name "Ashley" inside the city "Ashleyport" is not a leak.
    return sorted(v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", surface, re.IGNORECASE))


async def test_no_raw_personal_value_reaches_the_database_logs_broker_or_model(
    bot_site, shop, model_server, alice, caplog
):
    texts, values, misses = await sync_to_async(_corpus)()
    assert len(misses) <= MAX_DETECTOR_MISSES * (len(values) + len(misses)), sorted(misses)
    shop_customer = await sync_to_async(ShopCustomer.objects.get)(external_id="cust_1001")
    # The shop's own record of the customer reaches the bot through a tool result: it must be
    # redacted on the way too.
    values |= {shop_customer.name, shop_customer.email, shop_customer.address}
    caplog.set_level(logging.DEBUG)

    model_server.default_reply = lambda body: Reply(text="Thanks, I've noted that. Anything else?")
    for start in range(0, len(texts), PER_CONVERSATION):
        session = await opened(bot_site)
        async with Chat(session) as chat:
            for text in texts[start : start + PER_CONVERSATION]:
                await chat.say(text)
                await chat.wait_for(
                    lambda f: (
                        (f["type"] == "message" and f["role"] == "bot")
                        or (f["type"] == "status" and f["conversation_status"] == "queued")
                    )
                )
        await sync_to_async(agent_message_post)(
            conversation_id=session.conversation.pk, agent=alice, text=f"Following up on: {texts[start]}"
        )

    # A verified customer's order lookup: the tool result carries the shop's name/email/address.
    model_server.script(
        Reply(tool_calls=[ToolCall("get_order", json.dumps({"order_number": shop["pending"]}))]),
        Reply(text="It ships soon."),
    )
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say(f"Status of {shop['pending']}? Ship it to {texts[1]}")
        await chat.bot_message()

    surfaces = {
        "database": await sync_to_async(_database_text)(),
        "logs": caplog.text,
        "broker": await sync_to_async(_broker_messages)(),
        "model requests": json.dumps(model_server.requests),
    }
    # Most messages reached the model (the injection classifier refuses some off-topic chatter).
    assert len(model_server.chat_requests()) >= SAMPLES * 0.75
    assert "<PERSON_1>" in surfaces["database"] and "<PERSON_1>" in surfaces["model requests"]
    leaks = {name: _findings(values, text) for name, text in surfaces.items()}
    assert leaks == {name: [] for name in surfaces}, f"detector misses excluded: {sorted(misses)}"
