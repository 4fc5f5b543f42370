"""What a turn reads before it starts (`turn_input_load`, one statement) and what it writes when it
ends (`turn_output_post`), against the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.bot.context import TurnOutput, turn_input_load, turn_output_post
from conversations.chat.messages import message_post
from conversations.models import Conversation, Customer, Message

pytestmark = pytest.mark.django_db


def _conversation(site, *, external_id: str | None = None, **fields) -> Conversation:
    customer = Customer.objects.create(site=site, external_id=external_id)
    return Conversation.objects.create(site=site, customer=customer, **fields)


def _say(conversation: Conversation, role: str, text: str, **extras) -> int:
    return message_post(conversation_id=conversation.pk, role=role, text=text, extras=extras).message.seq


def test_it_reads_the_unanswered_question_the_history_window_and_a_summary_of_what_fell_out(site):
    conversation = _conversation(site, language="de", bot_state={"agent_summary": "Refund approved.", "intent": "x"})
    for n in range(5):
        _say(conversation, "customer", f"question {n}\nsecond line")
        _say(conversation, "bot", f"answer {n}")
    _say(conversation, "system", "Alice joined")
    _say(conversation, "agent", "Hi, Alice here")
    answered = _say(conversation, "bot", "back to the bot")
    Conversation.objects.filter(pk=conversation.pk).update(bot_answered_seq=answered)
    _say(conversation, "customer", "where is my parcel?")
    _say(conversation, "system", "Bob viewed")
    last = _say(
        conversation,
        "customer",
        "",
        attachments=[{"id": str(uuid.uuid4()), "name": "secret.png", "content_type": "image/png", "size": 10}],
    )
    _say(conversation, "customer", "after the turn started")  # beyond up_to_seq: not read

    loaded = turn_input_load(conversation_id=conversation.pk, up_to_seq=last, history_messages=3)

    assert loaded.question == "where is my parcel?\n[sent an image]"
    assert loaded.history == [("bot", "answer 4"), ("agent", "Hi, Alice here"), ("bot", "back to the bot")]
    assert loaded.earlier_summary == (
        "A person from the team handled part of this conversation: Refund approved. "
        "Earlier questions: question 2 / question 3 / question 4"
    )
    assert (loaded.public_id, loaded.site_id, loaded.company) == (str(conversation.public_id), site.pk, "Test Co")
    assert (loaded.language, loaded.state, loaded.miss_streak, loaded.up_to_seq) == (
        "de",
        {"agent_summary": "Refund approved.", "intent": "x"},
        0,
        last,
    )
    assert loaded.customer_id is None


def test_the_bots_latest_reply_is_history_for_the_next_question(site):
    """The bot's reply is posted after the question it answers (its seq is past the answered
    one): the next turn still reads it, or the model would never see what it said last."""
    conversation = _conversation(site)
    first = _say(conversation, "customer", "How long does shipping take?")
    turn_output_post(conversation_id=conversation.pk, up_to_seq=first, output=TurnOutput(text="3-5 business days."))
    second = _say(conversation, "customer", "and for express?")
    loaded = turn_input_load(conversation_id=conversation.pk, up_to_seq=second, history_messages=6)
    assert loaded.question == "and for express?"
    assert loaded.history == [("customer", "How long does shipping take?"), ("bot", "3-5 business days.")]


def test_the_customer_is_the_signed_user_else_the_one_verified_until_the_verification_expires(site):
    signed = _conversation(site, external_id="cust_1001")
    verified = _conversation(
        site, verified_customer_id="cust_2002", verified_until=timezone.now() + timedelta(minutes=5)
    )
    expired = _conversation(
        site, verified_customer_id="cust_3003", verified_until=timezone.now() - timedelta(seconds=1)
    )
    found = []
    for conversation in (signed, verified, expired):
        seq = _say(conversation, "customer", "hello")
        found.append(turn_input_load(conversation_id=conversation.pk, up_to_seq=seq, history_messages=6).customer_id)
    assert found == ["cust_1001", "cust_2002", None]


def test_nothing_is_read_for_a_conversation_a_person_took_or_without_an_unanswered_question(site):
    taken = _conversation(site, status=Conversation.Status.QUEUED)
    seq = _say(taken, "customer", "hello")
    assert turn_input_load(conversation_id=taken.pk, up_to_seq=seq, history_messages=6) is None
    answered = _conversation(site)
    seq = _say(answered, "customer", "hello")
    Conversation.objects.filter(pk=answered.pk).update(bot_answered_seq=seq)
    assert turn_input_load(conversation_id=answered.pk, up_to_seq=seq, history_messages=6) is None
    with pytest.raises(Conversation.DoesNotExist):
        turn_input_load(conversation_id=answered.pk + 1000, up_to_seq=1, history_messages=6)


def test_the_reply_keeps_the_agents_summary_replaces_the_turns_state_and_hands_off_after_two_misses(site):
    conversation = _conversation(site, bot_state={"agent_summary": "Refund approved.", "intent": "old"})
    seq = _say(conversation, "customer", "hello")
    output = TurnOutput(text="Not sure.", answered=False, state={"intent": "new"}, verified_customer_id="cust_2002")
    first = turn_output_post(conversation_id=conversation.pk, up_to_seq=seq, output=output)
    conversation.refresh_from_db()
    assert first.text == "Not sure." and first.extras["answered"] is False
    assert conversation.bot_state == {"agent_summary": "Refund approved.", "intent": "new"}
    assert (conversation.bot_answered_seq, conversation.bot_miss_streak) == (seq, 1)
    assert (conversation.verified_customer_id, conversation.status) == ("cust_2002", "bot")

    seq = _say(conversation, "customer", "hello?")
    turn_output_post(
        conversation_id=conversation.pk, up_to_seq=seq, output=TurnOutput(text="Still not sure.", answered=False)
    )
    conversation.refresh_from_db()
    assert (conversation.bot_miss_streak, conversation.verified_customer_id) == (2, "cust_2002")
    assert (conversation.status, conversation.handoff_reason) == ("queued", "missing_knowledge")


def test_no_reply_is_posted_once_a_person_took_the_conversation_but_the_turn_counts_as_answered(site):
    conversation = _conversation(site, status=Conversation.Status.HUMAN, bot_miss_streak=1)
    seq = _say(conversation, "customer", "hello")
    assert turn_output_post(conversation_id=conversation.pk, up_to_seq=seq, output=TurnOutput(text="Hi!")) is None
    conversation.refresh_from_db()
    assert (conversation.bot_answered_seq, conversation.bot_miss_streak, conversation.bot_state) == (seq, 0, {})
    assert not Message.objects.filter(conversation=conversation, role="bot").exists()
