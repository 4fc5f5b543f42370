"""What the handoff and note services publish to the realtime groups, observed on the real
channel layer with `captured_events` (tests/event_capture.py) instead of open sockets: the
sockets' own rendering is tested in test_workspace.py and tests/conversations/test_inbox.py."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from conversations.core.events import INBOX_GROUP, agent_conversation_group, conversation_group
from conversations.flows.messages import customer_message_post
from conversations.handoff import workflow
from conversations.handoff.notes import note_add
from conversations.handoff.services import handoff_open
from conversations.models import Conversation
from tests.handoff.conftest import online

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(widget_session, general):
    """A conversation whose customer asked for a person, routed to General and waiting."""
    conversation = widget_session.conversation
    customer_message_post(conversation_id=conversation.pk, text="I need a person", client_id=uuid.uuid4())
    handoff = handoff_open(conversation_id=conversation.pk, reason="customer_request")
    assert workflow.handoff_route_step(handoff_id=handoff.pk)
    return handoff


def test_assignment_tells_the_customer_who_joined_and_refreshes_every_inbox(
    queued, bob, captured_events, django_capture_on_commit_callbacks
):
    online(bob)
    public_id = queued.conversation.public_id
    captured_events.listen(conversation_group(public_id), INBOX_GROUP)
    with django_capture_on_commit_callbacks(execute=True):
        assert workflow.handoff_assign_step(handoff_id=queued.pk).agent == bob

    chat = conversation_group(public_id)
    joined = captured_events.wait_for(chat, lambda e: e["type"] == "chat.message")
    assert (joined["message"]["role"], joined["message"]["text"]) == ("system", "Bob joined the conversation.")
    status = captured_events.wait_for(chat, lambda e: e["type"] == "chat.status")
    assert status["status"] == {"type": "status", "conversation_status": "human", "agent": "Bob"}
    captured_events.wait_for(
        INBOX_GROUP, lambda e: e["type"] == "inbox.changed" and str(public_id) in e["conversation_ids"]
    )


def test_the_new_conversation_toast_goes_to_the_assigned_agent_alone(
    queued, bob, captured_events, django_capture_on_commit_callbacks
):
    online(bob)
    workflow.handoff_assign_step(handoff_id=queued.pk)
    captured_events.listen(INBOX_GROUP)
    with django_capture_on_commit_callbacks(execute=True):
        assert workflow.handoff_notify_step(handoff_id=queued.pk)

    toasts = [e for e in captured_events.settled(INBOX_GROUP) if e["type"] == "inbox.notify"]
    assert toasts == [
        {
            "type": "inbox.notify",
            "user_ids": [bob.pk],
            "conversation_id": str(queued.conversation.public_id),
            "title": "New conversation for you",
            "body": Conversation.HandoffReason.CUSTOMER_REQUEST.label,
        }
    ]


def test_an_internal_note_is_published_to_agents_and_never_to_the_customers_group(
    widget_session, alice, captured_events, django_capture_on_commit_callbacks
):
    public_id = widget_session.conversation.public_id
    captured_events.listen(agent_conversation_group(public_id), conversation_group(public_id))
    with django_capture_on_commit_callbacks(execute=True):
        note = note_add(conversation_id=widget_session.conversation.pk, agent=alice, text="VIP, be quick")

    assert captured_events.wait_for(agent_conversation_group(public_id)) == {"type": "inbox.note", "note_id": note.pk}
    assert captured_events.settled(conversation_group(public_id)) == []


def test_a_note_whose_transaction_rolls_back_is_never_published(
    widget_session, alice, captured_events, django_capture_on_commit_callbacks
):
    public_id = widget_session.conversation.public_id
    captured_events.listen(agent_conversation_group(public_id))
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            note_add(conversation_id=widget_session.conversation.pk, agent=alice, text="never saved")
            raise RuntimeError("the surrounding write failed")
    assert captured_events.settled(agent_conversation_group(public_id)) == []
