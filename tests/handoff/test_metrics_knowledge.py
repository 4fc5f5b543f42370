"""The bot's numbers on the supervisors' metrics page, on constructed data: AI resolution rate
(resolved without a person, not reopened within 7 days), helpful rate from thumbs, and answer
and abstain rates per day."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.chat.messages import message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.handoff.inactivity import idle_conversations_resolve
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.services import handoff_open
from conversations.models import Conversation, Message, MessageFeedback
from conversations.reports.metrics import metrics_compute
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db


def _conversation(site) -> Conversation:
    conversation = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
    customer_message_post(conversation_id=conversation.pk, text="How do returns work?", client_id=uuid.uuid4())
    return conversation


def _bot(conversation, **extras) -> Message:
    return message_post(
        conversation_id=conversation.pk, role=Message.Role.BOT, text="Here is how.", extras=extras
    ).message


def _idle_close(conversation) -> None:
    """The customer walked away after the bot's answer: closed as idle, no person involved."""
    _bot(conversation, answered=True)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now() - timedelta(hours=2))
    assert idle_conversations_resolve() == 1


def _shift(conversation, *, days: float) -> None:
    """Move everything in the conversation so far `days` into the past."""
    delta = timedelta(days=days)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - delta)
    for message in Message.objects.filter(conversation=conversation):
        Message.objects.filter(pk=message.pk).update(created_at=message.created_at - delta)


def test_ai_resolution_counts_conversations_the_bot_resolved_alone_and_that_stayed_resolved(site, alice):
    held = _conversation(site)  # the bot answered, the customer went away: AI-resolved
    _idle_close(held)

    came_back = _conversation(site)  # reopened the same day: not AI-resolved, even once closed again
    _idle_close(came_back)
    customer_message_post(conversation_id=came_back.pk, text="That didn't work", client_id=uuid.uuid4())
    _idle_close(came_back)

    came_back_later = _conversation(site)  # wrote again 8 days after the resolution: it held
    _idle_close(came_back_later)
    _shift(came_back_later, days=9)
    customer_message_post(conversation_id=came_back_later.pk, text="New question", client_id=uuid.uuid4())
    came_back_later.refresh_from_db()
    assert came_back_later.status == "bot"  # open again, with a new question; the first resolution counts

    handed_off = _conversation(site)  # a person was asked for
    handoff_open(conversation_id=handed_off.pk, reason="customer_request")
    conversation_resolve(conversation_id=handed_off.pk, agent=alice)

    agent_replied = _conversation(site)  # an agent answered
    agent_message_post(conversation_id=agent_replied.pk, agent=alice, text="Let me help")
    conversation_resolve(conversation_id=agent_replied.pk, agent=alice)

    still_open = _conversation(site)
    _bot(still_open, answered=True)

    metrics = metrics_compute(days=14)
    assert (metrics.conversations, metrics.ai_resolved) == (6, 2)
    assert metrics.ai_resolution_rate == pytest.approx(2 / 6)
    # A conversation started before the window is not counted, whatever happened to it.
    assert metrics_compute(days=7).conversations == 5 and metrics_compute(days=7).ai_resolved == 1


def test_helpful_rate_is_thumbs_up_out_of_all_thumbs_in_the_window(site):
    conversation = _conversation(site)
    replies = [_bot(conversation, answered=True) for _ in range(5)]
    for reply, rating in zip(replies, ["up", "up", "up", "down", "down"]):
        MessageFeedback.objects.create(conversation=conversation, message=reply, rating=rating)
    MessageFeedback.objects.filter(message=replies[4]).update(updated_at=timezone.now() - timedelta(days=20))

    metrics = metrics_compute(days=14)
    assert (metrics.thumbs_up, metrics.thumbs_down) == (3, 1)
    assert metrics.helpful_rate == pytest.approx(0.75)
    assert metrics_compute(days=7).helpful_rate == pytest.approx(0.75)


def test_answer_and_abstain_rates_per_day_count_cited_answers_and_i_dont_knows(site):
    conversation = _conversation(site)
    citation = [{"title": "Returns", "url": "/help/returns/"}]
    _bot(conversation, answered=True, citations=citation)
    _bot(conversation, answered=True, citations=citation)
    _bot(conversation, answered=False)
    _bot(conversation, answered=True)  # an order look-up: answered, no article
    _bot(conversation)  # from before the flag existed: left out
    yesterday = [_bot(conversation, answered=False), _bot(conversation, answered=True, citations=citation)]
    for reply in yesterday:
        Message.objects.filter(pk=reply.pk).update(created_at=reply.created_at - timedelta(days=1))

    days = {d.day: d for d in metrics_compute(days=7).answers_per_day}
    today = timezone.localdate()
    assert len(days) == 7
    assert (days[today].replies, days[today].cited, days[today].abstained) == (4, 2, 1)
    assert (days[today].answer_rate, days[today].abstain_rate) == (0.5, 0.25)
    one_day_ago = today - timedelta(days=1)
    assert (days[one_day_ago].answer_rate, days[one_day_ago].abstain_rate) == (0.5, 0.5)
    assert days[today - timedelta(days=2)].answer_rate is None


def test_the_metrics_page_shows_the_bot_numbers_with_their_definitions(client, site, dana):
    held = _conversation(site)
    _idle_close(held)
    _conversation(site)
    reply = _bot(held, answered=True, citations=[{"title": "Returns", "url": "/help/returns/"}])
    _bot(held, answered=False)
    MessageFeedback.objects.create(conversation=held, message=reply, rating="up")

    client.force_login(dana)
    page = client.get("/inbox/metrics/?days=7").content.decode()
    assert '<span class="kpi-value" id="ai-resolution">50%</span>' in page
    assert '<span class="kpi-value" id="helpful">100%</span>' in page
    # three bot replies: the idle-closed answer (no citation), the cited one, the "don't know"
    assert '<span class="kpi-value" id="answer-rate">33%</span>' in page
    assert '<span class="kpi-value" id="abstain-rate">33%</span>' in page
    today = timezone.localdate().strftime("%Y-%m-%d")
    assert f"<tr><td>{today}</td><td>3</td><td>33%</td><td>33%</td></tr>" in page
    assert "resolved without a person" in page and "not reopened within 7 days" in page
