"""Transcript e-mails: only to an address the conversation proved (a signed-in account, or a
still-valid order verification, checked against the demo shop over HTTP), a few per recipient per
hour across conversations, and links in the texts defanged so mail clients do not make them
clickable. The worker that sends the mail is in tests/handoff/test_worker.py."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from conversations.chat.authorization import conversation_verification_record
from conversations.chat.messages import message_post
from conversations.chat.transcript_mail import transcript_text
from conversations.chat.transcripts import TranscriptRefused, transcript_email_request
from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Message
from demoshop.models import ShopCustomer
from tests.bot_support import open_session


def _request(conversation_id: int, email: str) -> str:
    """The request, with its on-commit enqueue rolled back: no mail task is left in the broker."""
    with transaction.atomic():
        placeholder = transcript_email_request(conversation_id=conversation_id, email=email)
        transaction.set_rollback(True)
    return placeholder


def _refusal(conversation_id: int, email: str) -> str:
    with pytest.raises(TranscriptRefused) as refused:
        _request(conversation_id, email)
    return refused.value.code


@pytest.fixture
def charlie_email(shop) -> str:
    """The demo shop account of cust_1001 (charlie, in these tests)."""
    return ShopCustomer.objects.get(external_id="cust_1001").email


@pytest.mark.django_db
def test_an_anonymous_visitor_cannot_mail_a_transcript_to_any_address(widget_session):
    assert _refusal(widget_session.conversation.pk, "victim@example.com") == "not_verified"


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_customer_gets_it_only_at_the_accounts_own_address(bot_site, charlie_email):
    conversation = open_session(bot_site, customer_id="cust_1001").conversation
    assert _refusal(conversation.pk, "someone.else@example.com") == "not_verified"
    assert _request(conversation.pk, charlie_email.upper()).startswith("<EMAIL_ADDRESS_")


@pytest.mark.django_db(transaction=True)
def test_an_order_verification_proves_the_address_only_while_it_is_valid(bot_site, shop, charlie_email):
    conversation = open_session(bot_site).conversation
    assert _refusal(conversation.pk, charlie_email) == "not_verified"
    conversation_verification_record(
        conversation_id=conversation.pk, customer_id="cust_1001", order_number=next(iter(shop.values()))
    )
    assert _request(conversation.pk, charlie_email).startswith("<EMAIL_ADDRESS_")
    Conversation.objects.filter(pk=conversation.pk).update(verified_until=timezone.now() - timedelta(seconds=1))
    assert _refusal(conversation.pk, charlie_email) == "not_verified"


@pytest.mark.django_db(transaction=True)
def test_one_recipient_gets_at_most_three_transcripts_an_hour_across_conversations(bot_site, shop, charlie_email):
    first = open_session(bot_site, customer_id="cust_1001").conversation
    second = open_session(bot_site).conversation  # a visitor who verified one of the same account's orders
    conversation_verification_record(
        conversation_id=second.pk, customer_id="cust_1001", order_number=next(iter(shop.values()))
    )
    assert first.pk != second.pk
    for conversation in (first, first, second):  # under each conversation's own limit of 3
        _request(conversation.pk, charlie_email)
    assert _refusal(second.pk, charlie_email) == "rate_limited"


@pytest.mark.django_db
def test_links_in_the_mailed_transcript_are_defanged_not_clickable(widget_session):
    conversation = widget_session.conversation
    customer_message_post(
        conversation_id=conversation.pk,
        client_id=uuid.uuid4(),
        text="Your reset mail said https://evil.example.com/login?u=1 is that you?",
    )
    message_post(
        conversation_id=conversation.pk,
        role=Message.Role.BOT,
        text="No. Our help is at www.shop.example/help and shop.example/returns, never http://a.b.example or file://x.example/y.",
    )
    mail = transcript_text(conversation_id=conversation.pk)
    assert "hxxps://evil[.]example[.]com/login?u=1" in mail
    assert "www[.]shop[.]example/help" in mail and "shop[.]example/returns" in mail and "hxxp://a[.]b[.]example" in mail
    assert "file[:]//x[.]example/y" in mail
    for clickable in ("https://", "http://", "file://", "www.shop", "shop.example/", "evil.example"):
        assert clickable not in mail
    assert "Your reset mail said" in mail and "Our help is at" in mail
