"""The first agent inbox: access control, replies reaching the widget, live updates, escaping."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Message
from supportbot.asgi import application
from tests.conversations.test_chat_protocol import connected, frames_until

pytestmark = pytest.mark.django_db
# The socket tests need committed rows: the consumers read them from their own threads and
# connections. transaction=True empties every table after each test, so only they pay for it.
socket_test = pytest.mark.django_db(transaction=True)


def test_it_sends_anonymous_users_to_the_login_page(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")


def test_it_refuses_staff_who_are_not_agents(client, charlie, widget_session):
    client.force_login(charlie)
    assert client.get("/inbox/").status_code == 403
    response = client.post(f"/inbox/c/{widget_session.conversation.public_id}/reply", {"text": "hi"})
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_it_lists_conversations_with_their_latest_message(client, alice, widget_session):
    customer_message_post(
        conversation_id=widget_session.conversation.pk, text="My parcel is late", client_id=uuid.uuid4()
    )
    client.force_login(alice)
    page = client.get("/inbox/").content.decode()
    assert "My parcel is late" in page and widget_session.conversation.customer.display_name in page


def test_it_escapes_customer_text_in_the_inbox(client, alice, widget_session):
    customer_message_post(
        conversation_id=widget_session.conversation.pk, text="<script>alert('x')</script>", client_id=uuid.uuid4()
    )
    client.force_login(alice)
    page = client.get(f"/inbox/c/{widget_session.conversation.public_id}/").content.decode()
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page


def test_it_takes_the_conversation_over_when_an_agent_replies(client, alice, widget_session):
    client.force_login(alice)
    response = client.post(
        f"/inbox/c/{widget_session.conversation.public_id}/reply", {"text": "Hello, I'm Alice"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    conversation = Conversation.objects.get(pk=widget_session.conversation.pk)
    assert (conversation.status, conversation.assignee) == ("human", alice)
    joined, message = conversation.messages.order_by("seq")
    assert (joined.role, joined.text) == ("system", "Alice joined the conversation.")
    assert (message.role, message.author, message.text) == ("agent", alice, "Hello, I'm Alice")
    handoff = conversation.handoffs.get()
    assert (handoff.status, handoff.assignee, handoff.reason) == ("assigned", alice, "agent_takeover")
    assert handoff.first_response_at is not None


def test_it_rejects_an_empty_reply(client, alice, widget_session):
    client.force_login(alice)
    response = client.post(f"/inbox/c/{widget_session.conversation.public_id}/reply", {"text": "  "})
    assert response.status_code == 422 and not Message.objects.exists()


def test_it_resolves_a_conversation(client, alice, widget_session):
    client.force_login(alice)
    response = client.post(f"/inbox/c/{widget_session.conversation.public_id}/resolve", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Refresh"] == "true"
    conversation = Conversation.objects.get(pk=widget_session.conversation.pk)
    assert conversation.status == "resolved" and conversation.resolved_at is not None
    assert conversation.messages.get().role == "system"


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def inbox_socket(user, conversation=None) -> WebsocketCommunicator:
    cookie = await sync_to_async(_session_cookie)(user)
    path = "/ws/inbox/?view=open" + (f"&conversation={conversation.public_id}" if conversation else "")
    comm = WebsocketCommunicator(
        application, path, headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    )
    ok, _ = await comm.connect(timeout=5)
    assert ok
    return comm


@socket_test
async def test_the_inbox_socket_refuses_non_agents(charlie):
    cookie = await sync_to_async(_session_cookie)(charlie)
    comm = WebsocketCommunicator(
        application,
        "/ws/inbox/",
        headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
    )
    accepted, code = await comm.connect(timeout=5)
    assert (accepted, code) == (False, 4401)


@socket_test
async def test_the_inbox_socket_pushes_new_customer_messages_live_and_escaped(alice, widget_session):
    inbox = await inbox_socket(alice, widget_session.conversation)
    snapshot = await inbox.receive_from(timeout=5)
    assert 'id="conversation-list"' in snapshot and 'id="transcript"' in snapshot

    widget = await connected(widget_session)
    await widget.send_json_to({"type": "message", "client_id": str(uuid.uuid4()), "text": "<b>help</b> please"})
    await frames_until(widget, lambda f: f["type"] == "ack")

    pushed = ""
    while "please" not in pushed:
        pushed = await inbox.receive_from(timeout=5)
    assert 'hx-swap-oob="beforeend:#transcript"' in pushed
    assert "&lt;b&gt;help&lt;/b&gt; please" in pushed and "<b>help</b>" not in pushed
    await widget.disconnect()
    await inbox.disconnect()


@socket_test
async def test_agent_replies_reach_the_customer_socket(alice, widget_session):
    widget = await connected(widget_session)
    client = Client()
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)(
        f"/inbox/c/{widget_session.conversation.public_id}/reply", {"text": "On its way!"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    frames = await frames_until(widget, lambda f: f["type"] == "message" and f["role"] == "agent")
    assert frames[-1]["text"] == "On its way!" and frames[-1]["role"] == "agent" and frames[-1]["author"] == "Alice"
    # The takeover's status frame goes out with the "joined" message, before the reply itself.
    status = [f for f in frames if f["type"] == "status"]
    assert status[-1] == {"type": "status", "conversation_status": "human", "agent": "Alice"}
    await widget.disconnect()
