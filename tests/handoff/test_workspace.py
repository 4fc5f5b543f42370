"""The agent workspace over real HTTP views and sockets: queue access, claim, notes that never
reach the customer, saved replies, suggested answers, the orders panel, presence, collision
warnings, resolve reasons, the supervisor's team page and the metrics page."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.chat.conversations import conversation_rate
from conversations.chat.messages import message_post
from conversations.flows.messages import customer_message_post
from conversations.handoff.inactivity import idle_conversations_resolve
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.services import handoff_claim, handoff_open
from conversations.inbox.viewers import other_viewers, viewer_left, viewer_seen
from conversations.models import AgentProfile, CannedResponse, Conversation, CsatRating, Handoff, InternalNote, Message
from demoshop.models import Order, ShopCustomer
from tests.bot_support import open_session
from tests.conversations.test_chat_protocol import connected
from tests.conversations.test_inbox import inbox_socket

pytestmark = pytest.mark.django_db


def _say(conversation, text: str) -> None:
    customer_message_post(conversation_id=conversation.pk, text=text, client_id=uuid.uuid4())


@pytest.fixture
def billing_conversation(widget_session, billing):
    conversation = widget_session.conversation
    _say(conversation, "I was charged twice")
    handoff_open(conversation_id=conversation.pk, reason="customer_request")
    Conversation.objects.filter(pk=conversation.pk).update(queue=billing)
    Handoff.objects.filter(conversation=conversation).update(queue=billing, routed_at=timezone.now())
    return conversation


def test_an_agent_outside_the_queue_cannot_read_or_touch_its_conversations(
    client, billing_conversation, bob, alice, dana
):
    url = f"/inbox/c/{billing_conversation.public_id}/"
    client.force_login(bob)
    assert client.get(url).status_code == 404
    assert client.post(url + "reply", {"text": "hi"}).status_code == 404
    assert client.post(url + "claim").status_code == 404
    assert client.get(url + "orders").status_code == 404
    assert str(billing_conversation.public_id) not in client.get("/inbox/?view=all").content.decode()
    for user in (alice, dana):  # the queue's team, and a supervisor
        client.force_login(user)
        assert client.get(url).status_code == 200
        assert (
            f'data-conversation="{billing_conversation.public_id}"'
            in client.get("/inbox/?view=waiting").content.decode()
        )


@pytest.mark.django_db(transaction=True)
async def test_the_inbox_socket_gives_an_outsider_the_list_but_never_the_conversation(billing_conversation, bob):
    inbox = await inbox_socket(bob, billing_conversation)
    snapshot = await inbox.receive_from(timeout=5)
    assert 'id="conversation-list"' in snapshot and 'id="transcript"' not in snapshot
    await inbox.disconnect()


def test_customers_never_reach_the_workspace(client, widget_session):
    for path in ("/inbox/", f"/inbox/c/{widget_session.conversation.public_id}/", "/inbox/team/", "/inbox/metrics/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")


def test_claiming_takes_the_conversation_and_the_header_shows_reason_and_summary(
    client, billing_conversation, alice, bob
):
    Handoff.objects.filter(conversation=billing_conversation).update(summary="Customer was charged twice for SB-1.")
    client.force_login(alice)
    page = client.get(f"/inbox/c/{billing_conversation.public_id}/").content.decode()
    assert "Asked for a human" in page and "Customer was charged twice for SB-1." in page and ">Claim<" in page
    assert client.post(f"/inbox/c/{billing_conversation.public_id}/claim", HTTP_HX_REQUEST="true").status_code == 204
    billing_conversation.refresh_from_db()
    assert (billing_conversation.status, billing_conversation.assignee) == ("human", alice)
    client.force_login(bob)
    Conversation.objects.filter(pk=billing_conversation.pk).update(queue=None)  # visible to Bob now
    Handoff.objects.filter(conversation=billing_conversation).update(queue=None)
    assert client.post(f"/inbox/c/{billing_conversation.public_id}/claim").status_code == 409


@pytest.mark.django_db(transaction=True)
async def test_a_note_reaches_agents_live_but_never_the_customer(client, widget_session, alice, bob):
    conversation = widget_session.conversation
    widget = await connected(widget_session)
    inbox = await inbox_socket(bob, conversation)
    await inbox.receive_from(timeout=5)
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)(
        f"/inbox/c/{conversation.public_id}/reply",
        {"mode": "note", "text": "VIP, call back on +1 415 555 0134 <b>now</b>"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    pushed = ""
    while "internal note" not in pushed:
        pushed = await inbox.receive_from(timeout=5)
    assert (
        'VIP, call back on <span class="pii-mark" title="&lt;PHONE_NUMBER_1&gt; hidden' in pushed
    )  # a label, not the tag
    assert ">phone 1</span> &lt;b&gt;now&lt;/b&gt;" in pushed  # what the agent typed stays escaped
    note = await sync_to_async(InternalNote.objects.get)(conversation=conversation)
    assert "555" not in note.text
    assert not await sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    await asyncio.sleep(0.3)
    assert await widget.receive_nothing(timeout=0.5)  # the customer's socket got nothing at all
    conversation_after = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation_after.status == "bot"  # a note does not take the conversation over
    await inbox.disconnect()
    await widget.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_second_agent_viewing_the_conversation_is_announced(widget_session, alice, bob):
    await sync_to_async(_say)(widget_session.conversation, "hello")
    first = await inbox_socket(alice, widget_session.conversation)
    await first.receive_from(timeout=5)
    second = await inbox_socket(bob, widget_session.conversation)
    warning = ""
    while "also viewing" not in warning:
        warning = await first.receive_from(timeout=5)
    assert "Bob is also viewing this conversation." in warning
    await second.disconnect()
    # Viewer updates may still be in flight from Bob's arrival; the warning must clear after he left.
    cleared = ""
    while 'id="viewers"' not in cleared or "also viewing" in cleared:
        cleared = await first.receive_from(timeout=5)
    await first.disconnect()


@pytest.mark.django_db(transaction=True)
def test_agents_opening_a_conversation_at_the_same_instant_all_show_as_viewing(widget_session, django_user_model):
    """Each tab writes only its own entry: simultaneous arrivals cannot overwrite each other."""
    agents = [django_user_model.objects.create_user(username=f"agent{i}", first_name=f"Agent {i}") for i in range(12)]
    AgentProfile.objects.bulk_create([AgentProfile(user=agent, socket_seen_at=timezone.now()) for agent in agents])
    public_id = widget_session.conversation.public_id
    start = threading.Barrier(len(agents))

    def arrive(agent) -> None:
        start.wait()
        viewer_seen(public_id=public_id, agent_id=agent.pk, name=agent.first_name)

    with ThreadPoolExecutor(max_workers=len(agents)) as pool:
        list(pool.map(arrive, agents))
    seen_by_first = other_viewers(public_id=public_id, agent_id=agents[0].pk)
    assert seen_by_first == sorted(agent.first_name for agent in agents[1:])
    viewer_left(public_id=public_id, agent_id=agents[1].pk)
    assert "Agent 1" not in other_viewers(public_id=public_id, agent_id=agents[0].pk)


@pytest.mark.django_db(transaction=True)
async def test_an_open_inbox_tab_makes_the_agent_reachable(alice):
    inbox = await inbox_socket(alice)
    await inbox.receive_from(timeout=5)
    await asyncio.sleep(0.3)
    profile = await sync_to_async(AgentProfile.objects.get)(user=alice)
    assert profile.socket_seen_at is not None and profile.socket_seen_at > timezone.now() - timedelta(seconds=10)
    await inbox.disconnect()


def test_presence_is_set_by_the_agent(client, alice):
    client.force_login(alice)
    response = client.post("/inbox/presence", {"presence": "away"})
    assert response.status_code == 200 and 'value="away" selected' in response.content.decode()
    assert AgentProfile.objects.get(user=alice).presence == "away"
    assert client.post("/inbox/presence", {"presence": "asleep"}).status_code == 422


def test_saved_replies_are_in_the_page_as_data_not_markup(client, widget_session, alice):
    CannedResponse.objects.create(
        shortcut="refund-time",
        title="Refund timing",
        text="Refunds take 5 business days. </script><script>alert(1)</script>",
    )
    _say(widget_session.conversation, "hi")
    client.force_login(alice)
    page = client.get(f"/inbox/c/{widget_session.conversation.public_id}/").content.decode()
    assert '<script id="canned-responses" type="application/json">' in page
    assert "<script>alert(1)</script>" not in page
    data = page.split('<script id="canned-responses" type="application/json">')[1].split("</script>")[0]
    assert json.loads(data)[0]["shortcut"] == "refund-time"


def test_suggested_answers_include_internal_articles(client, bot_site, articles, alice):
    session = open_session(bot_site)
    _say(session.conversation, "Can you approve a warranty override for my tent bought two years ago?")
    client.force_login(alice)
    html = client.get(f"/inbox/c/{session.conversation.public_id}/suggestions").content.decode()
    assert "Warranty override playbook" in html and "Insert" in html


@pytest.mark.django_db(transaction=True)
def test_the_orders_panel_reads_the_commerce_api(client, bot_site, shop, alice):
    session = open_session(bot_site, customer_id="cust_1001")
    _say(session.conversation, "where is my order")
    client.force_login(alice)
    html = client.get(f"/inbox/c/{session.conversation.public_id}/orders").content.decode()
    for number in shop.values():
        assert number in html
    assert "cust_1001" in html


@pytest.mark.django_db(transaction=True)
def test_the_orders_panel_shows_placeholders_for_the_customers_personal_values(client, bot_site, shop, alice):
    session = open_session(bot_site, customer_id="cust_1001")
    _say(session.conversation, "where is my order")
    client.force_login(alice)
    html = client.get(f"/inbox/c/{session.conversation.public_id}/orders").content.decode()
    customer = ShopCustomer.objects.get(external_id="cust_1001")
    for value in (customer.name, customer.email, customer.email.partition("@")[2], customer.phone):
        assert value not in html
    addresses = {customer.address, *Order.objects.filter(customer=customer).values_list("shipping_address", flat=True)}
    assert not any(address in html for address in addresses)
    for kind, label in (
        ("PERSON", "name"),
        ("EMAIL_ADDRESS", "email"),
        ("PHONE_NUMBER", "phone"),
        ("STREET_ADDRESS", "address"),
    ):
        assert re.search(rf'<span class="pii-mark" title="&lt;{kind}_\d+&gt; [^"]*">{label} \d+</span>', html), kind
    assert all(number in html for number in shop.values())  # order numbers are not personal


def test_the_orders_panel_says_when_the_order_system_is_down(client, bot_site, alice, settings):
    settings.COMMERCE_API_URL = "http://127.0.0.1:9/api"
    session = open_session(bot_site, customer_id="cust_1001")
    _say(session.conversation, "where is my order")
    client.force_login(alice)
    html = client.get(f"/inbox/c/{session.conversation.public_id}/orders").content.decode()
    assert "not reachable" in html


def test_resolve_records_the_reason_and_hand_back_returns_to_the_bot(client, widget_session, alice):
    conversation = widget_session.conversation
    _say(conversation, "hi")
    handoff_claim(conversation_id=conversation.pk, agent=alice)
    client.force_login(alice)
    response = client.post(
        f"/inbox/c/{conversation.public_id}/hand-back", {"note": "Told them about the sale."}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "bot" and conversation.bot_state["agent_summary"] == "Told them about the sale."
    assert client.post(f"/inbox/c/{conversation.public_id}/resolve", {"reason": "nonsense"}).status_code == 422
    client.post(f"/inbox/c/{conversation.public_id}/resolve", {"reason": "order_fixed"}, HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolution_reason) == ("resolved", "order_fixed")


def test_the_hand_back_note_is_redacted_like_every_agent_text(client, widget_session, alice):
    conversation = widget_session.conversation
    _say(conversation, "hi")
    handoff_claim(conversation_id=conversation.pk, agent=alice)
    client.force_login(alice)
    note = "Alice here: refunded Jane Porter, mail jane.porter@example.com or call +1 415 555 0134."
    assert (
        client.post(f"/inbox/c/{conversation.public_id}/hand-back", {"note": note}, HTTP_HX_REQUEST="true").status_code
        == 200
    )
    conversation.refresh_from_db()
    stored = [conversation.bot_state["agent_summary"], Handoff.objects.get(conversation=conversation).return_note]
    for text in stored:
        for value in ("Jane Porter", "jane.porter@example.com", "555 0134"):
            assert value not in text
        assert "<EMAIL_ADDRESS_" in text and "<PHONE_NUMBER_" in text and "refunded" in text
    assert "Alice here" in stored[0]  # the agent's own name is not a customer's personal data


def test_only_supervisors_see_the_team_page_and_can_reassign(client, billing_conversation, alice, bob, dana):
    handoff_claim(conversation_id=billing_conversation.pk, agent=alice)
    client.force_login(alice)
    assert client.get("/inbox/team/").status_code == 403
    assert client.post(f"/inbox/c/{billing_conversation.public_id}/assign", {"agent": dana.pk}).status_code == 302
    client.force_login(dana)
    page = client.get("/inbox/team/").content.decode()
    assert "Billing" in page and "Alice" in page
    assert "<td>Asked for a human</td>" in page and "customer_request" not in page  # labels, not codes
    billing_conversation.refresh_from_db()
    assert billing_conversation.assignee == dana  # Alice owned it, so she could pass it on
    response = client.post(
        f"/inbox/c/{billing_conversation.public_id}/assign", {"agent": bob.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403  # Bob does not serve Billing


def test_the_metrics_page_computes_containment_handoffs_times_and_csat(client, site, alice, dana):
    from conversations.chat.widget_sessions import widget_session_open
    from tests.conftest import ORIGIN

    conversations = [widget_session_open(site_key=site.key, origin=ORIGIN).conversation for _ in range(4)]
    for conversation in conversations:
        _say(conversation, "question")
    for conversation in conversations[:2]:  # two go to a person, two stay with the bot
        handoff_open(conversation_id=conversation.pk, reason="missing_knowledge")
        handoff_claim(conversation_id=conversation.pk, agent=alice)
        conversation_resolve(conversation_id=conversation.pk, agent=alice, reason="answered")
    # a second handoff for the first conversation must not count it twice
    _say(conversations[0], "and another thing")
    handoff_open(conversation_id=conversations[0].pk, reason="customer_request")
    handoff_claim(conversation_id=conversations[0].pk, agent=alice)
    conversation_resolve(conversation_id=conversations[0].pk, agent=alice, reason="answered")
    # Of the two the bot kept, the customer walked away from one after its answer (closed as
    # idle: contained) and the other is still open (not contained yet).
    message_post(conversation_id=conversations[2].pk, role="bot", text="Here is how returns work.")
    Conversation.objects.filter(pk=conversations[2].pk).update(last_message_at=timezone.now() - timedelta(hours=2))
    assert idle_conversations_resolve() == 1
    conversation_rate(conversation_id=conversations[0].pk, score=5)
    conversation_rate(conversation_id=conversations[1].pk, score=2)
    client.force_login(alice)
    assert client.get("/inbox/metrics/").status_code == 403
    client.force_login(dana)
    page = client.get("/inbox/metrics/?days=7").content.decode()
    assert '<span class="kpi-value" id="containment">25%</span>' in page
    assert "3.5" in page and "(2 ratings)" in page
    assert page.count("<svg") == 3 and "No answer found" in page


def test_each_resolution_keeps_its_own_rating_and_the_metrics_count_them_all(client, widget_session, alice, dana):
    conversation = widget_session.conversation
    _say(conversation, "question")
    handoff_open(conversation_id=conversation.pk, reason="customer_request")
    handoff_claim(conversation_id=conversation.pk, agent=alice)
    conversation_resolve(conversation_id=conversation.pk, agent=alice, reason="answered")
    conversation_rate(conversation_id=conversation.pk, score=2)
    conversation_rate(conversation_id=conversation.pk, score=3, comment="slow, but fixed")  # replaces: same resolution
    _say(conversation, "it broke again")  # reopens
    conversation_resolve(conversation_id=conversation.pk, agent=alice, reason="answered")
    conversation_rate(conversation_id=conversation.pk, score=5)

    ratings = list(
        CsatRating.objects.filter(conversation=conversation)
        .order_by("resolved_at")
        .values_list("score", "comment", "agent")
    )
    # The reopened conversation went back to the bot, so nobody is credited with the second rating.
    assert ratings == [(3, "slow, but fixed", alice.pk), (5, "", None)]
    conversation.refresh_from_db()
    assert (conversation.csat_score, conversation.csat_comment) == (5, "")  # the latest, shown in the inbox
    client.force_login(dana)
    page = client.get("/inbox/metrics/?days=7").content.decode()
    assert "4.0" in page and "(2 ratings)" in page
    assert "<h2>CSAT by agent</h2>" in page and "<tr><td>Alice</td><td>3.0</td><td>1</td><td>0</td></tr>" in page


def test_search_finds_words_stems_prefixes_and_ids_within_what_the_agent_may_see(
    client, site, billing_conversation, alice, bob
):
    from conversations.chat.widget_sessions import widget_session_open
    from tests.conftest import ORIGIN

    parcel, refund = (widget_session_open(site_key=site.key, origin=ORIGIN).conversation for _ in range(2))
    _say(parcel, "My parcel arrived damaged")
    _say(refund, "Where are my refunds for order A1234?")
    refund.customer.external_id = "cust-8842"
    refund.customer.save(update_fields=["external_id"])

    def found(user, q: str) -> set:
        client.force_login(user)
        page = client.get("/inbox/", {"view": "all", "q": q}).content.decode()
        return {c for c in (parcel, refund, billing_conversation) if f'data-conversation="{c.public_id}"' in page}

    assert found(bob, "damage") == {parcel}  # stemmed: "damaged"
    assert found(bob, "refund") == {refund}  # stemmed: "refunds"
    assert found(bob, "par") == {parcel}  # a prefix
    assert found(bob, "parcel damaged") == {parcel}
    assert found(bob, "parcel refund") == set()  # every word must match
    assert found(bob, "a1234") == {refund}
    assert found(bob, "8842") == {refund}  # the customer's id at the company
    assert found(bob, str(parcel.public_id)[:8]) == {parcel}
    assert found(bob, "') & !(|:*") == set()  # tsquery syntax is not passed through
    assert found(bob, "charged") == set()  # Billing's conversation is not Bob's to see
    assert found(alice, "charged") == {billing_conversation}
    waiting = client.get("/inbox/", {"view": "waiting", "q": "charged"}).content.decode()  # ordered by wait
    assert f'data-conversation="{billing_conversation.public_id}"' in waiting
