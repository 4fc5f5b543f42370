"""Idle conversations close themselves, but only when nobody is waiting on them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.chat.messages import message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.handoff.inactivity import IDLE_TEXT, idle_conversations, idle_conversations_resolve
from conversations.handoff.resolution import resolve_if
from conversations.handoff.services import handoff_claim, handoff_open
from conversations.models import Conversation, Handoff, Message
from tests.conftest import ORIGIN


def _conversation(site) -> Conversation:
    return widget_session_open(site_key=site.key, origin=ORIGIN).conversation


def _customer(conversation: Conversation, text: str = "Where is my order?") -> None:
    customer_message_post(conversation_id=conversation.pk, text=text, client_id=uuid.uuid4())


def _bot(conversation: Conversation, text: str = "It left our warehouse yesterday.") -> None:
    message_post(conversation_id=conversation.pk, role=Message.Role.BOT, text=text)


def _idle_for(conversation: Conversation, minutes: int) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now() - timedelta(minutes=minutes))


@pytest.fixture
def limits(settings):
    settings.IDLE_RESOLVE_BOT_MINUTES = 60
    settings.IDLE_RESOLVE_HUMAN_MINUTES = 1440
    return settings


def test_a_bot_conversation_the_customer_left_after_the_answer_closes_itself(limits, bot_site):
    conversation = _conversation(bot_site)
    _customer(conversation)
    _bot(conversation)
    _idle_for(conversation, 61)

    assert idle_conversations_resolve() == 1
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolution_reason) == ("resolved", "no_response")
    last = conversation.messages.order_by("-seq").first()
    assert (last.role, last.text) == ("system", IDLE_TEXT)
    assert idle_conversations_resolve() == 0  # closed once


def test_conversations_somebody_waits_on_stay_open(limits, bot_site, alice):
    customer_waits = _conversation(bot_site)  # the bot has not answered yet
    _customer(customer_waits)
    in_queue = _conversation(bot_site)  # the bot answered, then the customer asked for a person
    _customer(in_queue)
    _bot(in_queue)
    handoff_open(conversation_id=in_queue.pk, reason="customer_request")
    recent = _conversation(bot_site)  # answered 59 minutes ago
    _customer(recent)
    _bot(recent)
    agent_waits = _conversation(bot_site)  # with Alice, who has not replied to the customer's last message
    _customer(agent_waits)
    handoff_claim(conversation_id=agent_waits.pk, agent=alice)
    never_spoke = _conversation(bot_site)
    for conversation, minutes in (
        (customer_waits, 600),
        (in_queue, 600),
        (recent, 59),
        (agent_waits, 3000),
        (never_spoke, 600),
    ):
        _idle_for(conversation, minutes)

    assert idle_conversations_resolve() == 0
    assert not Conversation.objects.filter(status=Conversation.Status.RESOLVED).exists()


def test_a_human_conversation_closes_after_the_human_limit_and_a_new_message_starts_fresh(limits, bot_site, alice):
    conversation = _conversation(bot_site)
    _customer(conversation, "My parcel is damaged")
    handoff_open(conversation_id=conversation.pk, reason="customer_request")
    handoff_claim(conversation_id=conversation.pk, agent=alice)
    agent_message_post(conversation_id=conversation.pk, agent=alice, text="A new one is on its way.")
    _idle_for(conversation, 23 * 60)
    assert idle_conversations_resolve() == 0  # past the bot's limit, not the human one

    _idle_for(conversation, 24 * 60 + 1)
    assert idle_conversations_resolve() == 1
    handoff = Handoff.objects.get(conversation=conversation)
    assert (handoff.status, handoff.resolution_reason) == ("resolved", "no_response") and handoff.closed_at

    _customer(conversation, "Thanks, it arrived!")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("bot", None)  # reopened with the bot, no loop
    assert Handoff.objects.filter(conversation=conversation).count() == 1


def test_a_customer_message_racing_the_close_keeps_the_conversation_open(limits, bot_site):
    conversation = _conversation(bot_site)
    _customer(conversation)
    _bot(conversation)
    _idle_for(conversation, 61)
    now = timezone.now()
    assert idle_conversations(now=now).filter(pk=conversation.pk).exists()

    _customer(conversation, "Actually, one more thing")  # lands between the sweep's pick and its close
    closed = resolve_if(
        conversation_id=conversation.pk,
        agent=None,
        reason="no_response",
        text=IDLE_TEXT,
        still=idle_conversations(now=now),
    )
    assert closed is False
    conversation.refresh_from_db()
    assert conversation.status == "bot"


def test_a_limit_of_zero_turns_the_close_off(settings, bot_site):
    settings.IDLE_RESOLVE_BOT_MINUTES = 0
    conversation = _conversation(bot_site)
    _customer(conversation)
    _bot(conversation)
    _idle_for(conversation, 10_000)
    assert idle_conversations_resolve() == 0
