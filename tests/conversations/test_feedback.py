"""Thumbs up/down on bot answers: the `feedback` frame over the real socket (Postgres, Redis
channel layer), redaction of its comment, the rating in the agents' inbox, and the `answered`
flag each bot reply carries for the content-gap report."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from conversations.chat.messages import message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.models import Message, MessageFeedback
from tests.bot_support import Chat, opened
from tests.conftest import ORIGIN
from tests.conversations.test_chat_protocol import connected, frames_until
from tests.conversations.test_inbox import inbox_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def _question_and_bot_answer(
    conversation,
    *,
    question: str = "How long does shipping take?",
    answer: str = "Standard shipping takes 3 to 5 business days [1].",
) -> int:
    customer_message_post(conversation_id=conversation.pk, text=question, client_id=uuid.uuid4())
    return message_post(
        conversation_id=conversation.pk, role=Message.Role.BOT, text=answer, extras={"answered": True}
    ).message.seq


async def _rated(conversation_id: int) -> list[tuple[int, str, str]]:
    return await sync_to_async(
        lambda: list(
            MessageFeedback.objects.filter(conversation_id=conversation_id).values_list(
                "message__seq", "rating", "comment"
            )
        )
    )()


async def test_it_stores_a_thumbs_up_on_a_bot_answer_and_answers_feedback_saved(widget_session):
    seq = await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "up"})
    saved = await comm.receive_json_from(timeout=5)
    assert saved == {"type": "feedback_saved", "seq": seq, "rating": "up"}
    assert await _rated(widget_session.conversation.pk) == [(seq, "up", "")]
    await comm.disconnect()


async def test_rating_again_replaces_the_earlier_rating(widget_session):
    seq = await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "up"})
    await frames_until(comm, lambda f: f["type"] == "feedback_saved")
    await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "down", "comment": "It did not say express"})
    saved = (await frames_until(comm, lambda f: f["type"] == "feedback_saved"))[-1]
    assert saved["rating"] == "down"
    assert await _rated(widget_session.conversation.pk) == [(seq, "down", "It did not say express")]
    await comm.disconnect()


async def test_a_seq_of_another_conversation_is_not_found(widget_session, site):
    other = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    # The other conversation has a bot answer at seq 2; this one has only a customer message there.
    other_seq = await sync_to_async(_question_and_bot_answer)(other.conversation)
    await sync_to_async(customer_message_post)(
        conversation_id=widget_session.conversation.pk, text="hi", client_id=uuid.uuid4()
    )
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "feedback", "seq": other_seq + 5, "rating": "down"})
    assert (await comm.receive_json_from(timeout=5))["code"] == "not_found"
    await comm.send_json_to({"type": "feedback", "seq": other_seq, "rating": "down"})
    assert (await comm.receive_json_from(timeout=5))["code"] == "not_found"
    assert await sync_to_async(MessageFeedback.objects.count)() == 0
    await comm.disconnect()


async def test_customer_agent_and_system_messages_cannot_be_rated(widget_session, alice):
    conversation_id = widget_session.conversation.pk
    await sync_to_async(customer_message_post)(conversation_id=conversation_id, text="hello", client_id=uuid.uuid4())
    await sync_to_async(agent_message_post)(conversation_id=conversation_id, agent=alice, text="Hi, Alice here")
    roles = await sync_to_async(
        lambda: dict(Message.objects.filter(conversation_id=conversation_id).values_list("seq", "role"))
    )()
    assert set(roles.values()) == {"customer", "system", "agent"}
    comm = await connected(widget_session)
    for seq in roles:
        await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "up"})
        error = (await frames_until(comm, lambda f: f["type"] == "error"))[-1]
        assert error["code"] == "not_found", roles[seq]
    assert await sync_to_async(MessageFeedback.objects.count)() == 0
    await comm.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "feedback", "seq": 2, "rating": "meh"},
        {"type": "feedback", "seq": 2},
        {"type": "feedback", "rating": "up"},
        {"type": "feedback", "seq": "2", "rating": "up"},
        {"type": "feedback", "seq": True, "rating": "up"},
        {"type": "feedback", "seq": 0, "rating": "up"},
        {"type": "feedback", "seq": 2, "rating": "down", "comment": 5},
    ],
)
async def test_a_malformed_feedback_frame_is_a_bad_frame_and_stores_nothing(widget_session, frame):
    await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    await comm.send_json_to(frame)
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "bad_frame" and error["message"]
    assert await sync_to_async(MessageFeedback.objects.count)() == 0
    await comm.disconnect()


async def test_a_comment_over_the_text_limit_is_too_large(widget_session, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    seq = await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "down", "comment": "x" * 51})
    assert (await comm.receive_json_from(timeout=5))["code"] == "too_large"
    assert await sync_to_async(MessageFeedback.objects.count)() == 0
    await comm.disconnect()


async def test_the_comment_is_stored_redacted(widget_session):
    seq = await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    await comm.send_json_to(
        {"type": "feedback", "seq": seq, "rating": "down", "comment": "Wrong. Email me at jo.smith@example.com instead"}
    )
    await frames_until(comm, lambda f: f["type"] == "feedback_saved")
    [(_, rating, comment)] = await _rated(widget_session.conversation.pk)
    assert rating == "down" and "jo.smith@example.com" not in comment
    assert comment.startswith("Wrong. Email me at <EMAIL_ADDRESS_") and comment.endswith("> instead")
    await comm.disconnect()


async def test_feedback_frames_count_against_the_frame_rate_limit(widget_session, settings):
    settings.CHAT_RATE_BURST = 2
    settings.CHAT_RATE_PER_SECOND = 0.01
    seq = await sync_to_async(_question_and_bot_answer)(widget_session.conversation)
    comm = await connected(widget_session)
    for _ in range(3):
        await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "up"})
    frames = [await comm.receive_json_from(timeout=5) for _ in range(3)]
    assert [f["type"] for f in frames] == ["feedback_saved", "feedback_saved", "error"]
    assert frames[2]["code"] == "rate_limited" and frames[2]["retry_after"] > 0
    await comm.disconnect()


async def test_agents_viewing_the_conversation_see_the_rating_live_and_on_the_page(client, widget_session, alice):
    conversation = widget_session.conversation
    seq = await sync_to_async(_question_and_bot_answer)(conversation)
    inbox = await inbox_socket(alice, conversation)
    snapshot = await inbox.receive_from(timeout=5)
    assert f'id="feedback-{seq}"' in snapshot and "Not helpful" not in snapshot

    comm = await connected(widget_session)
    await comm.send_json_to({"type": "feedback", "seq": seq, "rating": "down", "comment": "<b>Too vague</b>"})
    await frames_until(comm, lambda f: f["type"] == "feedback_saved")
    pushed = ""
    while f'id="feedback-{seq}"' not in pushed:
        pushed = await inbox.receive_from(timeout=5)
    assert 'hx-swap-oob="true"' in pushed and "Not helpful" in pushed
    assert "&lt;b&gt;Too vague&lt;/b&gt;" in pushed and "<b>Too vague" not in pushed

    await sync_to_async(client.force_login)(alice)
    page = (await sync_to_async(client.get)(f"/inbox/c/{conversation.public_id}/")).content.decode()
    assert "Not helpful" in page and "&lt;b&gt;Too vague&lt;/b&gt;" in page
    await comm.disconnect()
    await inbox.disconnect()


async def test_each_bot_reply_records_whether_it_was_a_grounded_answer(bot_site, articles):
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("How long does standard shipping take?")
        answered = await chat.bot_message()
        await chat.say("Can I bring my parrot to your flagship store's cafe?")
        abstained = await chat.bot_message()
        await chat.send({"type": "feedback", "seq": abstained["seq"], "rating": "down"})
        saved = await chat.wait_for(lambda f: f["type"] == "feedback_saved")
    extras = await sync_to_async(
        lambda: dict(Message.objects.filter(conversation=session.conversation, role="bot").values_list("seq", "extras"))
    )()
    assert extras[answered["seq"]]["answered"] is True and extras[answered["seq"]]["citations"]
    assert extras[abstained["seq"]]["answered"] is False
    assert saved == {"type": "feedback_saved", "seq": abstained["seq"], "rating": "down"}
