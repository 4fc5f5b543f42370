"""The handoff workflow's steps on real Postgres: routing, assignment with capacity and presence,
what the customer is told, SLA timers, business hours, transfers, hand back and reopen.

The steps are the functions the Celery tasks call; here they are called in the test process
(never Celery's eager mode). tests/handoff/test_worker.py runs them in a real worker.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.handoff import workflow
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.selectors import handoff_wait_estimate, queue_wait_estimates
from conversations.handoff.services import (
    HandoffError,
    handoff_assign_to,
    handoff_claim,
    handoff_open,
    handoff_return_to_bot,
    handoff_transfer_to_queue,
)
from conversations.models import Conversation, Handoff, HandoffEvent, Message, ModelCall, Queue
from tests.conftest import ORIGIN
from tests.handoff.conftest import online

pytestmark = pytest.mark.django_db


def _say(conversation, text: str) -> None:
    customer_message_post(conversation_id=conversation.pk, text=text, client_id=uuid.uuid4())


def _run_workflow(handoff: Handoff) -> Handoff:
    """The task chain, step by step, as the worker runs it."""
    assert workflow.handoff_summarize_step(handoff_id=handoff.pk)
    assert workflow.handoff_route_step(handoff_id=handoff.pk)
    workflow.handoff_assign_step(handoff_id=handoff.pk)
    workflow.handoff_notify_step(handoff_id=handoff.pk)
    return Handoff.objects.get(pk=handoff.pk)


def _texts(conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, role="system").order_by("seq").values_list("text", flat=True)
    )


def _mails(outbox) -> str:
    """pytest-django's mailoutbox: what Django's mail API sent in this process."""
    return "\n".join(f"To: {', '.join(m.to)}\nSubject: {m.subject}\n{m.body}" for m in outbox)


def test_it_routes_by_keyword_and_assigns_the_least_loaded_online_agent(widget_session, billing, general, alice, bob):
    online(alice)
    online(bob)
    conversation = widget_session.conversation
    _say(conversation, "I was charged twice, I want a refund")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))

    assert (handoff.queue, handoff.assignee, handoff.status) == (billing, alice, "assigned")
    assert handoff.summary_source == "extractive" and "charged twice" in handoff.summary
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee, conversation.queue) == ("human", alice, billing)
    assert _texts(conversation)[-1] == "Alice joined the conversation."
    assert list(handoff.events.values_list("kind", flat=True)) == [
        "created",
        "summarized",
        "routed",
        "assigned",
        "notified",
    ]


def test_the_least_loaded_agent_gets_the_next_handoff_and_capacity_is_a_hard_limit(site, general, bob, alice):
    general.teams.first().members.add(alice)
    online(alice, capacity=1)
    online(bob, capacity=2)
    from conversations.chat.widget_sessions import widget_session_open
    from tests.conftest import ORIGIN

    assignees = []
    for n in range(4):
        conversation = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
        _say(conversation, f"help {n}")
        assignees.append(
            _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request")).assignee
        )
    # least loaded first (ties: whoever waited longest since their last assignment), never above capacity
    assert sorted(a.username for a in assignees[:3]) == ["alice", "bob", "bob"]
    assert assignees[3] is None
    assert Handoff.objects.filter(status="queued").count() == 1


def test_away_and_tabless_agents_are_not_assigned_and_the_customer_learns_the_position(
    widget_session, general, bob, mailoutbox
):
    outbox = mailoutbox
    bob.email = "bob@support.test"
    bob.save()
    profile = online(bob, presence="away")
    conversation = widget_session.conversation
    _say(conversation, "hello?")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))
    assert (handoff.status, handoff.assignee) == ("queued", None)
    assert _texts(conversation)[-1] == "You're number 1 in line. Expected wait: about 5 minutes."
    # nobody online: the queue's agents get an email (placeholders only, with a link)
    mail = _mails(outbox)
    assert "bob@support.test" in mail and f"/inbox/c/{conversation.public_id}/" in mail

    # Online by choice but no inbox tab for a while: still not reachable.
    profile.presence = "online"
    profile.socket_seen_at = timezone.now() - timedelta(minutes=5)
    profile.save()
    assert workflow.handoffs_assign_waiting() == 0
    profile.socket_seen_at = timezone.now()
    profile.save()
    assert workflow.handoffs_assign_waiting() == 1
    assert Handoff.objects.get(pk=handoff.pk).assignee == bob


def test_unclaimed_past_the_sla_re_notifies_then_escalates_to_supervisors(
    widget_session, general, bob, dana, mailoutbox
):
    outbox = mailoutbox
    bob.email = "bob@support.test"
    bob.save()
    conversation = widget_session.conversation
    _say(conversation, "anyone there?")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))
    assert handoff.sla_due_at == handoff.routed_at + timedelta(minutes=general.sla_minutes)

    assert workflow.handoff_sla_step(handoff_id=handoff.pk, now=timezone.now()) is None  # not due yet
    later = handoff.sla_due_at + timedelta(seconds=1)
    assert workflow.handoff_sla_step(handoff_id=handoff.pk, now=later) == "sla_renotified"
    assert workflow.handoff_sla_step(handoff_id=handoff.pk, now=later) is None  # claimed once
    assert "past the SLA" in _mails(outbox)

    handoff.refresh_from_db()
    assert handoff.sla_due_at == later - timedelta(seconds=1) + timedelta(
        minutes=general.escalate_minutes - general.sla_minutes
    )
    assert workflow.handoff_sla_step(handoff_id=handoff.pk, now=handoff.sla_due_at) == "sla_escalated"
    assert "dana@support.test" in _mails(outbox)
    assert list(
        HandoffEvent.objects.filter(handoff=handoff, kind__startswith="sla").values_list("kind", flat=True)
    ) == ["sla_renotified", "sla_escalated"]


def test_outside_business_hours_the_customer_is_told_when_and_can_leave_an_email(widget_session, general):
    now = timezone.now()
    tomorrow = (now + timedelta(days=1)).strftime("%a").lower()
    general.hours = f"{tomorrow} 09:00-17:00"
    general.save()
    conversation = widget_session.conversation
    _say(conversation, "Can someone call me back?")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))
    assert handoff.after_hours and handoff.status == "queued"
    assert _texts(conversation)[-1].startswith("Our team is away right now and back tomorrow at 09:00 (UTC).")
    assert handoff.sla_due_at.hour == 9 and handoff.sla_due_at.minute == general.sla_minutes

    _say(conversation, "sure, it's jo.customer@example.com")
    handoff.refresh_from_db()
    assert handoff.follow_up_email == "<EMAIL_ADDRESS_1>"
    assert _texts(conversation)[-1] == "Thanks! If you've left by the time we reply, we'll write to <EMAIL_ADDRESS_1>."
    assert not Message.objects.filter(text__contains="jo.customer@").exists()


def test_the_expected_wait_is_the_median_time_to_assignment_of_the_same_line(site, general):
    """The queue's assigned history gives the wait; handoffs routed to no queue are a line of their own."""
    past, routed, unrouted = (widget_session_open(site_key=site.key, origin=ORIGIN).conversation for _ in range(3))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    for queue, waited_minutes in ((general, 2), (general, 4), (general, 30), (None, 60)):
        done = Handoff.objects.create(conversation=past, reason="customer_request", status="resolved", queue=queue)
        Handoff.objects.filter(pk=done.pk).update(
            created_at=an_hour_ago, assigned_at=an_hour_ago + timedelta(minutes=waited_minutes)
        )
    Handoff.objects.create(conversation=routed, reason="customer_request", queue=general)
    Handoff.objects.create(conversation=unrouted, reason="customer_request")
    assert [(c, e.position, e.minutes) for c, e in queue_wait_estimates(queue_id=general.pk, limit=5)] == [
        (routed.pk, 1, 4)
    ]
    assert [(c, e.position, e.minutes) for c, e in queue_wait_estimates(queue_id=None, limit=5)] == [
        (unrouted.pk, 1, 60)
    ]
    assert handoff_wait_estimate(conversation_id=past.pk) is None  # nothing waiting there
    unrouted_wait = handoff_wait_estimate(conversation_id=unrouted.pk)
    assert unrouted_wait is not None and (unrouted_wait.position, unrouted_wait.minutes) == (1, 60)


def test_there_is_at_most_one_open_handoff_per_conversation(widget_session):
    conversation = widget_session.conversation
    first = handoff_open(conversation_id=conversation.pk, reason="customer_request")
    assert handoff_open(conversation_id=conversation.pk, reason="missing_knowledge") == first
    with pytest.raises(IntegrityError), transaction.atomic():
        Handoff.objects.create(conversation=conversation, reason="tool_failure")
    assert _texts(conversation).count("We've asked a member of our team to join. You'll get a reply right here.") == 1


def test_claim_then_transfer_to_an_agent_and_to_a_queue_is_never_silent(
    widget_session, general, billing, alice, bob, dana
):
    conversation = widget_session.conversation
    _say(conversation, "question")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))
    handoff_claim(conversation_id=conversation.pk, agent=bob)
    with pytest.raises(HandoffError):
        handoff_claim(conversation_id=conversation.pk, agent=dana)  # already Bob's
    with pytest.raises(HandoffError):
        handoff_assign_to(conversation_id=conversation.pk, agent=bob, assignee=alice)  # Alice is not in General
    handoff_assign_to(conversation_id=conversation.pk, agent=bob, assignee=dana)
    assert _texts(conversation)[-2:] == [
        "Bob joined the conversation.",
        "Bob passed your conversation to Dana, who has joined.",
    ]
    handoff_transfer_to_queue(conversation_id=conversation.pk, agent=dana, queue=billing)
    assert _texts(conversation)[-1] == "Dana passed your conversation to our Billing team. Someone will join shortly."
    conversation.refresh_from_db()
    handoff.refresh_from_db()
    assert (conversation.status, conversation.queue, handoff.status, handoff.assignee) == (
        "queued",
        billing,
        "queued",
        None,
    )


def test_resolving_closes_the_handoff_with_the_reason_and_frees_the_agent(widget_session, general, bob):
    online(bob, capacity=1)
    conversation = widget_session.conversation
    _say(conversation, "question")
    handoff = _run_workflow(handoff_open(conversation_id=conversation.pk, reason="customer_request"))
    assert handoff.assignee == bob
    agent_message_post(conversation_id=conversation.pk, agent=bob, text="Here's the answer.")
    conversation_resolve(conversation_id=conversation.pk, agent=bob, reason="answered")
    handoff.refresh_from_db()
    conversation.refresh_from_db()
    assert (handoff.status, handoff.resolution_reason, conversation.resolution_reason) == (
        "resolved",
        "answered",
        "answered",
    )
    assert handoff.first_response_at is not None and handoff.closed_at is not None


def test_a_reopened_conversation_starts_fresh_without_looping_into_handoff(widget_session, bob):
    conversation = widget_session.conversation
    _say(conversation, "question")
    handoff_open(conversation_id=conversation.pk, reason="missing_knowledge")
    Conversation.objects.filter(pk=conversation.pk).update(bot_miss_streak=2, bot_state={"intent": "cancel"})
    handoff_claim(conversation_id=conversation.pk, agent=bob)
    conversation_resolve(conversation_id=conversation.pk, agent=bob, reason="answered")

    _say(conversation, "one more thing")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.handoff_reason, conversation.bot_miss_streak, conversation.bot_state) == (
        "bot",
        "",
        0,
        {},
    )
    assert not Handoff.objects.filter(conversation=conversation, status__in=Handoff.OPEN_STATUSES).exists()


def test_with_the_bot_off_a_message_reopening_a_resolved_conversation_goes_to_the_team(widget_session, bob):
    from conversations.handoff.services import LIVE_CHAT_TEXT

    conversation = widget_session.conversation
    type(conversation.site).objects.filter(pk=conversation.site_id).update(handoff_when_bot_off=True)
    _say(conversation, "Hello, is anyone there?")
    handoff_claim(conversation_id=conversation.pk, agent=bob)
    _say(conversation, "thanks, that was all")  # with Bob: no second handoff
    conversation_resolve(conversation_id=conversation.pk, agent=bob, reason="answered")

    _say(conversation, "one more thing about my order")  # reopens it to the bot, which is off
    handoffs = list(Handoff.objects.filter(conversation=conversation).order_by("pk").values_list("reason", "status"))
    assert handoffs == [("customer_request", "resolved"), ("customer_request", "queued")]
    assert _texts(conversation).count(LIVE_CHAT_TEXT) == 2
    assert Conversation.objects.get(pk=conversation.pk).status == "queued"


def test_hand_back_to_the_bot_keeps_what_the_agent_did_for_the_bot(widget_session, bob):
    conversation = widget_session.conversation
    _say(conversation, "where is my parcel")
    handoff_claim(conversation_id=conversation.pk, agent=bob)
    agent_message_post(conversation_id=conversation.pk, agent=bob, text="I re-sent your parcel with express shipping.")
    handoff_return_to_bot(conversation_id=conversation.pk, agent=bob)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("bot", None)
    last_customer_seq = Message.objects.filter(conversation=conversation, role="customer").order_by("-seq")[0].seq
    assert conversation.bot_answered_seq >= last_customer_seq  # the agent handled it; the bot does not re-answer
    assert "re-sent your parcel" in conversation.bot_state["agent_summary"]
    assert Handoff.objects.get(conversation=conversation).status == "returned"
    assert _texts(conversation)[-1].startswith("You're chatting with our assistant again.")
    with pytest.raises(HandoffError):
        handoff_return_to_bot(conversation_id=conversation.pk, agent=bob)


def test_the_sweep_pushes_a_stalled_workflow_and_retries_assignment(widget_session, general, bob, settings):
    settings.HANDOFF_STUCK_SECONDS = 5
    conversation = widget_session.conversation
    handoff = handoff_open(conversation_id=conversation.pk, reason="customer_request")
    Handoff.objects.filter(pk=handoff.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert workflow.handoffs_sweep().pushed == [("handoff_summarize", handoff.pk)]
    workflow.handoff_summarize_step(handoff_id=handoff.pk)
    workflow.handoff_route_step(handoff_id=handoff.pk)
    assert workflow.handoffs_sweep().pushed == [("handoff_assign", handoff.pk)]
    online(bob)
    assert workflow.handoffs_sweep().assigned == 1


def test_queue_hours_and_time_zone_are_validated_in_the_admin_form(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        Queue(name="Q", hours="weekdays 9-5", timezone="Mars/Olympus").full_clean()
    assert set(error.value.message_dict) == {"hours", "timezone"}


def test_the_summary_is_written_by_the_model_from_redacted_text_and_falls_back_offline(widget_session, model_server):
    from tests.fakes.model_server import Reply

    conversation = widget_session.conversation
    _say(conversation, "My email is jo.customer@example.com and my tent pole snapped")
    handoff = handoff_open(conversation_id=conversation.pk, reason="customer_request")
    model_server.script(Reply(text="Customer reports a snapped tent pole and wants a replacement."))
    workflow.handoff_summarize_step(handoff_id=handoff.pk)
    handoff.refresh_from_db()
    assert (handoff.summary, handoff.summary_source) == (
        "Customer reports a snapped tent pole and wants a replacement.",
        "model",
    )
    sent = json.dumps(model_server.chat_requests()[0])
    assert "<EMAIL_ADDRESS_1>" in sent and "jo.customer" not in sent
    call = ModelCall.objects.get(conversation=conversation)
    assert call.prompt_version == "handoff-summary-v1" and call.outcome == "ok"

    second = widget_session.conversation
    Handoff.objects.filter(pk=handoff.pk).update(status="resolved")
    again = handoff_open(conversation_id=second.pk, reason="customer_request")
    model_server.default_reply = lambda body: Reply(status=500)
    workflow.handoff_summarize_step(handoff_id=again.pk)
    again.refresh_from_db()
    assert again.summary_source == "extractive" and "tent pole snapped" in again.summary


def test_the_extractive_summary_says_what_the_customer_asked_and_what_the_bot_cited(widget_session):
    from conversations.chat.messages import message_post
    from conversations.handoff.summary import extractive_summary

    conversation = widget_session.conversation
    _say(conversation, "How long do refunds take?")
    message_post(
        conversation_id=conversation.pk,
        role=Message.Role.BOT,
        text="5-10 business days. [1]",
        extras={"citations": [{"title": "When will I get my refund?", "url": "/help/refunds/"}]},
    )
    _say(conversation, "It has been three weeks")
    summary = extractive_summary(conversation_id=conversation.pk, reason="missing_knowledge")
    assert summary.splitlines() == [
        "Handed off: No answer found.",
        'First asked: "How long do refunds take?"',
        'Latest: "It has been three weeks"',
        "The bot replied once, citing “When will I get my refund?”.",
    ]


def test_keywords_match_by_stem_so_plurals_and_tenses_route_too(widget_session, billing, general):
    from conversations.handoff.routing import keywords_found, queue_choose

    assert keywords_found(text="How long do refunds take?", keywords={"refund", "invoice"}) == {"refund"}
    assert keywords_found(text="you charge me too much", keywords={"charged"}) == {"charged"}
    assert keywords_found(text="both my credit cards were declined", keywords={"credit card", "card credit"}) == {
        "credit card"
    }  # a phrase keeps its order
    assert keywords_found(text="the refund", keywords={"the", ""}) == set()  # a stop word matches nothing
    _say(widget_session.conversation, "How long do refunds take?")
    assert queue_choose(conversation_id=widget_session.conversation.pk, reason="customer_request") == billing
