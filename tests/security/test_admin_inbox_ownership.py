"""Hand back and resolve follow the same rule as transfer: the assignee, or a supervisor, or anyone
who serves the queue while nobody owns the conversation. Seeing a colleague's conversation (same
team) is not enough to end it or give it to the bot."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from conversations.flows.messages import customer_message_post
from conversations.handoff.access import SUPERVISORS_GROUP
from conversations.handoff.services import handoff_claim, handoff_open
from conversations.models import Conversation, Handoff, Message, Queue, Team
from demoshop.demo_accounts import support_agents_group_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(db):
    """Dana supervises every queue."""
    user = get_user_model().objects.create_user(username="dana", password=PASSWORD, first_name="Dana", is_staff=True)
    user.groups.add(support_agents_group_ensure(), Group.objects.get_or_create(name=SUPERVISORS_GROUP)[0])
    return user


@pytest.fixture
def shared_queue(alice, bob):
    """Alice and Bob are on the same team: both see the queue's conversations."""
    team = Team.objects.create(name="Front line")
    team.members.add(alice, bob)
    queue = Queue.objects.create(name="General", is_default=True)
    queue.teams.add(team)
    return queue


@pytest.fixture
def alices_conversation(widget_session, shared_queue, alice):
    conversation = widget_session.conversation
    customer_message_post(conversation_id=conversation.pk, text="My parcel never came", client_id=uuid.uuid4())
    handoff_open(conversation_id=conversation.pk, reason="customer_request")
    Conversation.objects.filter(pk=conversation.pk).update(queue=shared_queue)
    Handoff.objects.filter(conversation=conversation).update(queue=shared_queue)
    handoff_claim(conversation_id=conversation.pk, agent=alice)
    return Conversation.objects.get(pk=conversation.pk)


def _state(conversation: Conversation) -> tuple:
    conversation.refresh_from_db()
    handoff = Handoff.objects.get(conversation=conversation)
    return conversation.status, conversation.assignee_id, handoff.status, conversation.messages.count()


@pytest.mark.parametrize("action", ["hand-back", "resolve"])
def test_a_colleague_cannot_hand_back_or_resolve_another_agents_conversation(client, alices_conversation, bob, action):
    before = _state(alices_conversation)
    client.force_login(bob)
    assert client.get(f"/inbox/c/{alices_conversation.public_id}/").status_code == 200  # Bob can see it
    response = client.post(
        f"/inbox/c/{alices_conversation.public_id}/{action}", {"reason": "answered"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert "only the assignee or a supervisor" in response.content.decode()
    assert _state(alices_conversation) == before == ("human", before[1], "assigned", before[3])


@pytest.mark.parametrize(("action", "status"), [("hand-back", "bot"), ("resolve", "resolved")])
def test_a_supervisor_can_hand_back_or_resolve_any_conversation(client, alices_conversation, dana, action, status):
    client.force_login(dana)
    response = client.post(
        f"/inbox/c/{alices_conversation.public_id}/{action}", {"reason": "answered"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    alices_conversation.refresh_from_db()
    assert alices_conversation.status == status


@pytest.mark.parametrize(("action", "status"), [("hand-back", "bot"), ("resolve", "resolved")])
def test_the_assignee_can_hand_back_or_resolve_her_conversation(client, alices_conversation, alice, action, status):
    client.force_login(alice)
    response = client.post(
        f"/inbox/c/{alices_conversation.public_id}/{action}", {"reason": "answered"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    alices_conversation.refresh_from_db()
    assert alices_conversation.status == status


def test_an_unowned_waiting_conversation_can_be_resolved_by_anyone_serving_the_queue(
    client, widget_session, shared_queue, bob
):
    conversation = widget_session.conversation
    customer_message_post(conversation_id=conversation.pk, text="Never mind, found it", client_id=uuid.uuid4())
    handoff_open(conversation_id=conversation.pk, reason="customer_request")
    Conversation.objects.filter(pk=conversation.pk).update(queue=shared_queue)
    Handoff.objects.filter(conversation=conversation).update(queue=shared_queue)
    client.force_login(bob)
    response = client.post(f"/inbox/c/{conversation.public_id}/resolve", {"reason": "answered"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Handoff.objects.get(conversation=conversation).status == "resolved"
    assert Message.objects.filter(conversation=conversation, role="system").exists()
