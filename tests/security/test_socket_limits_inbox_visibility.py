"""The inbox socket re-checks access on every event: a conversation moved out of the agent's
reach stops reaching their socket, and an agent who lost the role is disconnected."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Queue, Team
from tests.conversations.test_inbox import inbox_socket

pytestmark = [pytest.mark.django_db(transaction=True)]


async def customer_says(conversation: Conversation, text: str) -> None:
    from conversations.core.async_db import call_service
    from conversations.core.events import publish_collected

    _, pending = await call_service(
        customer_message_post, conversation_id=conversation.pk, text=text, client_id=uuid.uuid4()
    )
    await publish_collected(pending)


async def received_until(comm: WebsocketCommunicator, needle: str, timeout: float = 5.0) -> str:
    html = ""
    while needle not in html:
        html += await comm.receive_from(timeout=timeout)
    return html


def move_to_a_queue_alice_does_not_serve(conversation: Conversation, bob) -> None:
    team = Team.objects.create(name="Billing team")
    team.members.add(bob)
    queue = Queue.objects.create(name="Billing")
    queue.teams.add(team)
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)


async def test_a_conversation_moved_out_of_the_agents_queues_stops_reaching_their_socket(alice, bob, widget_session):
    conversation = widget_session.conversation
    inbox = await inbox_socket(alice, conversation)
    await inbox.receive_from(timeout=5)  # the snapshot
    await customer_says(conversation, "first question about shipping")
    assert "first question about shipping" in await received_until(inbox, "first question")

    await sync_to_async(move_to_a_queue_alice_does_not_serve)(conversation, bob)
    await customer_says(conversation, "second, after the move")
    html = await received_until(inbox, "You can no longer see this conversation.")
    assert "second, after the move" not in html
    # The groups are gone: later events do not even reach the socket.
    await customer_says(conversation, "third, my card number")
    while not await inbox.receive_nothing(timeout=1):
        assert "third, my card number" not in await inbox.receive_from(timeout=1)
    await inbox.disconnect()


async def test_an_agent_who_lost_the_role_is_disconnected_at_the_next_event(alice, widget_session):
    conversation = widget_session.conversation
    inbox = await inbox_socket(alice, conversation)
    await inbox.receive_from(timeout=5)
    await sync_to_async(alice.groups.clear)()
    await customer_says(conversation, "are you there?")
    output = await inbox.receive_output(timeout=5)
    while output["type"] == "websocket.send":
        assert "are you there?" not in output.get("text", "")
        output = await inbox.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4401}
