"""Guardrails at the edges: re-hydration only on the customer's own sockets, abuse and budget
limits answered with the protocol's error frames, and XSS payloads rendered inert everywhere."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from conversations.flows.messages import customer_message_post
from conversations.models import Message
from guardrails.limits import token_budget_spend
from guardrails.models import GuardrailEvent
from knowledge.models import Article
from knowledge.services import article_save
from tests.bot_support import Chat, opened
from tests.conftest import ORIGIN
from tests.conversations.test_chat_protocol import connected, frames_until
from tests.conversations.test_inbox import inbox_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
    "{{7*7}}<iframe src=//evil.example>",
]


async def test_only_the_customers_own_sockets_see_their_values_again(alice, widget_session):
    own_tab = await connected(widget_session)
    other_tab = await connected(widget_session)
    inbox = await inbox_socket(alice, widget_session.conversation)
    await inbox.receive_from(timeout=5)  # snapshot

    await own_tab.send_json_to(
        {"type": "message", "client_id": str(uuid.uuid4()), "text": "I'm Ann Lee, reach me at ann.lee@example.com"}
    )
    await frames_until(own_tab, lambda f: f["type"] == "ack")
    broadcast = await frames_until(other_tab, lambda f: f["type"] == "message")
    assert broadcast[-1]["text"] == "I'm Ann Lee, reach me at ann.lee@example.com"
    pushed = ""
    while "reach me" not in pushed:
        pushed = await inbox.receive_from(timeout=5)
    assert "ann.lee@example.com" not in pushed and 'title="&lt;EMAIL_ADDRESS_1&gt; hidden' in pushed

    await own_tab.send_json_to({"type": "resume", "after_seq": 0})
    replayed = await frames_until(own_tab, lambda f: f["type"] == "message")
    assert replayed[-1]["text"] == "I'm Ann Lee, reach me at ann.lee@example.com"
    stored = await sync_to_async(Message.objects.get)(conversation=widget_session.conversation, seq=1)
    assert stored.text == "I'm <PERSON_1>, reach me at <EMAIL_ADDRESS_1>"
    for comm in (own_tab, other_tab, inbox):
        await comm.disconnect()


async def test_a_conversation_sending_too_fast_gets_rate_limited_and_nothing_is_stored(widget_session, settings):
    settings.LIMIT_MESSAGES_PER_CONVERSATION_PER_MINUTE = 2
    tab = await connected(widget_session)
    for n in range(3):
        await tab.send_json_to({"type": "message", "client_id": str(uuid.uuid4()), "text": f"message {n}"})
    frames = await frames_until(tab, lambda f: f["type"] == "error")
    assert frames[-1]["code"] == "rate_limited" and frames[-1]["retry_after"] > 0
    assert await sync_to_async(Message.objects.filter(conversation=widget_session.conversation).count)() == 2
    await tab.disconnect()


def test_new_conversations_per_ip_are_limited(site, settings):
    settings.LIMIT_CONVERSATIONS_PER_IP_PER_HOUR = 2
    client = Client(HTTP_ORIGIN=ORIGIN, REMOTE_ADDR="198.51.100.7")
    statuses = [
        client.post("/api/widget/conversations", {"site_key": site.key}, content_type="application/json")
        for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert statuses[2].json()["error"]["code"] == "rate_limited"
    other = Client(HTTP_ORIGIN=ORIGIN, REMOTE_ADDR="198.51.100.8")
    assert (
        other.post("/api/widget/conversations", {"site_key": site.key}, content_type="application/json").status_code
        == 201
    )


async def test_a_spent_token_budget_skips_the_model_and_answers_offline(bot_site, articles, model_server, settings):
    settings.LLM_DAILY_TOKENS_PER_CONVERSATION = 1000
    session = await opened(bot_site)
    await sync_to_async(token_budget_spend)(conversation_id=session.conversation.pk, site_id=bot_site.pk, tokens=1000)
    async with Chat(session) as chat:
        await chat.say("How long do I have to return something for a refund?")
        reply = await chat.bot_message()
    assert "30 days" in reply["text"] and model_server.chat_requests() == []
    assert await sync_to_async(GuardrailEvent.objects.filter(kind="budget_exceeded").exists)()


def test_xss_payloads_are_inert_in_the_inbox_admin_and_help_pages(client, alice, admin_user, widget_session):
    from conversations.chat.messages import message_post

    for payload in XSS_PAYLOADS:
        customer_message_post(conversation_id=widget_session.conversation.pk, text=payload, client_id=uuid.uuid4())
    message_post(
        conversation_id=widget_session.conversation.pk,
        role="bot",
        text="See the sources.",
        extras={
            "citations": [{"title": XSS_PAYLOADS[1], "url": "javascript:alert(1)"}],
            "action": {
                "action_id": "x",
                "tool": "cancel_order",
                "summary": XSS_PAYLOADS[0],
                "status": "proposed",
                "expires_at": "",
            },
        },
    )
    article = article_save(
        article=Article(
            title="<script>alert(1)</script>", slug="xss", status="published", body="\n\n".join(XSS_PAYLOADS)
        )
    )
    client.force_login(alice)
    inbox = client.get(f"/inbox/c/{widget_session.conversation.public_id}/").content.decode()
    client.force_login(admin_user)
    admin = client.get(f"/admin/knowledge/article/{article.pk}/change/").content.decode()
    help_page = Client().get("/help/xss/").content.decode()
    for page in (inbox, admin, help_page):
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x onerror" not in page and "<svg onload" not in page and "<iframe" not in page
        assert 'href="javascript:' not in page
