"""What a customer's message decides from its own append, without a query of its own."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from conversations.core.message_store import message_append
from conversations.models import Conversation, Customer, Message

pytestmark = [pytest.mark.django_db]


def _appended_state(site, *, status: str):
    conversation = Conversation.objects.create(site=site, customer=Customer.objects.create(site=site), status=status)
    return message_append(
        conversation_id=conversation.pk,
        role=Message.Role.CUSTOMER,
        text="hello",
        client_id=uuid.uuid4(),
        author=None,
        extras={},
        now=timezone.now(),
        reopen=True,
    ).conversation


def test_the_bot_may_answer_only_its_own_conversations_on_a_bot_site(bot_site, site):
    assert _appended_state(bot_site, status=Conversation.Status.BOT).bot_may_answer
    # Reopened by this very message: back with the bot.
    assert _appended_state(bot_site, status=Conversation.Status.RESOLVED).bot_may_answer
    assert not _appended_state(bot_site, status=Conversation.Status.HUMAN).bot_may_answer
    assert not _appended_state(bot_site, status=Conversation.Status.QUEUED).bot_may_answer
    assert not site.bot_enabled
    assert not _appended_state(site, status=Conversation.Status.BOT).bot_may_answer
