"""The bot understands before it acts (offline responder, real socket, real Postgres/Redis, the
demo shop over HTTP): policy questions with action words are answered from the articles, a
pending ask never traps the conversation, and short follow-ups are read against the previous
question. "I don't know" offering the closest articles is tests/unit/test_offline_decisions.py."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conversations.bot.understanding.intent import EVAL_SET, get_intent_classifier
from conversations.bot.understanding.intent_training import intent_eval
from conversations.models import Conversation
from knowledge.indexing import article_index
from supportbot.llm.embeddings import local_minilm
from tests.bot_support import Chat, opened

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

VERIFY = "check it's you"


async def _state(session) -> dict:
    return await sync_to_async(lambda: Conversation.objects.get(pk=session.conversation.pk).bot_state)()


async def test_a_policy_question_with_an_action_word_is_answered_not_acted_on(bot_site, articles):
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("How long do I have to return an item?")
        first = await chat.bot_message()
        await chat.say("Can I return items after 30 days?")
        second = await chat.bot_message()
    for reply in (first, second):
        assert VERIFY not in reply["text"]
        assert [c["title"] for c in reply["citations"]] == ["Returns and refunds"]
        assert "30 days" in reply["text"]
        assert "I can start a return for you" in reply["text"]  # the action is offered, not started


async def test_a_request_to_act_on_my_order_still_asks_an_anonymous_visitor_to_verify(bot_site, articles):
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("Please cancel my order")
        reply = await chat.bot_message()
    assert VERIFY in reply["text"] and "citations" not in reply


async def test_a_question_during_verification_is_answered_and_the_ask_offered_again_once(bot_site, articles):
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("I want to cancel my order")
        assert VERIFY in (await chat.bot_message())["text"]
        await chat.say("How long does standard shipping take?")
        answer = await chat.bot_message()
        assert [c["title"] for c in answer["citations"]] == ["Shipping times"]
        assert "3 to 5 business days" in answer["text"]
        assert "cancel your order" in answer["text"] and "order number" in answer["text"]  # the reminder
        assert (await _state(session))["intent"] == "cancel_order"
        await chat.say("How long do refunds take?")
        second = await chat.bot_message()
    assert [c["title"] for c in second["citations"]] == ["Returns and refunds"]
    assert "cancel your order" not in second["text"]  # reminded once only
    assert await _state(session) == {}  # and then dropped


async def test_never_mind_drops_the_pending_ask(bot_site, articles):
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("I need to return my order")
        assert VERIFY in (await chat.bot_message())["text"]
        assert (await _state(session))["intent"] == "return_order"
        await chat.say("never mind")
        reply = await chat.bot_message()
    assert "dropped" in reply["text"]
    assert await _state(session) == {}


async def test_the_verification_still_completes_after_an_interruption(bot_site, shop, articles):
    from demoshop.models import Order

    order = await sync_to_async(lambda: Order.objects.select_related("customer").get(number=shop["pending"]))()
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("cancel my order please")
        await chat.bot_message()
        await chat.say("How long do refunds take?")
        await chat.bot_message()
        await chat.say(f"{order.number} {order.customer.email}")
        reply = await chat.bot_message()
    assert "verified" in reply["text"]
    assert reply["action"]["status"] == "proposed" and order.number in reply["action"]["summary"]


async def test_a_short_follow_up_is_read_against_the_previous_question(bot_site, articles):
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("How long does shipping take?")
        await chat.bot_message()
        await chat.say("and for express?")
        reply = await chat.bot_message()
    assert [c["title"] for c in reply["citations"]] == ["Shipping times"]
    assert "don't know" not in reply["text"]


async def test_small_talk_gets_a_friendly_reply_and_does_not_count_as_a_miss(bot_site, articles):
    session = await opened(bot_site)
    async with Chat(session) as chat:
        await chat.say("hi")
        hello = await chat.bot_message()
        await chat.say("thanks!")
        thanks = await chat.bot_message()
    assert hello["text"].startswith("Hi!") and "don't know" not in hello["text"]
    assert "welcome" in thanks["text"]
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert conversation.bot_miss_streak == 0 and conversation.status == "bot"


@pytest.fixture
def demo_policies(db):
    """The demo shop's policy articles (demoshop/demo_articles/articles.json), with their
    alternative questions, indexed: the cancellation, address, warranty and refund answers the
    questions below are about."""
    from django.db import transaction

    from demoshop.demo_articles import DEMO_ARTICLES
    from knowledge.models import Article
    from knowledge.services import article_questions_set, article_save

    wanted = {
        "cancel-an-order",
        "change-shipping-address",
        "warranty",
        "refund-timing",
        "return-policy",
        "late-or-missing-parcel",
    }
    for item in json.loads(DEMO_ARTICLES.read_text(encoding="utf-8")):
        if item["slug"] not in wanted:
            continue
        questions = item.pop("questions", [])
        with transaction.atomic():
            article = article_save(article=Article(status=Article.Status.PUBLISHED, **item))
            article_questions_set(article=article, questions=questions)
        assert article_index(article_id=article.pk) == "indexed"


# Questions about the rules as they would apply to the customer's own order: answered from the
# policy, never a verification request (issue 12, "can i cancel my order after it ships?").
OWN_ORDER_HYPOTHETICALS = [
    ("can i cancel my order after it ships?", {"Cancelling an order"}),
    # The demo help center has no article on damaged deliveries: any cited article will do here.
    ("what happens if my parcel arrives damaged?", None),
    ("if I return my boots, when do I get the money back?", {"When will I get my refund?"}),
    ("would I be able to change my address once my order has shipped?", {"Changing the shipping address of an order"}),
    ("how long will my refund take?", {"When will I get my refund?"}),
    ("is my order covered by the warranty if the zip breaks?", {"Warranty"}),
    ("if i send my jacket back when do i get my money", {"When will I get my refund?"}),  # chat drops the "?"
]
# Requests to act on the customer's own order, in the same words: these still start the action.
OWN_ORDER_REQUESTS = [  # each a different action from the one before, so each starts afresh
    ("please change the address on SB-100042", "change_order_address"),
    ("can I cancel my order?", "cancel_order"),  # a bare "can I" about one's own order is a polite request
    ("I want to return the boots", "return_order"),
    ("could you cancel my order if it hasn't shipped yet?", "cancel_order"),  # a condition, asked of the bot
    ("my order hasn't arrived, where is it?", "get_order"),
    ("cancel my order", "cancel_order"),
]


async def test_a_hypothetical_about_my_own_order_is_answered_but_a_request_in_the_same_words_is_acted_on(
    bot_site, demo_policies
):
    """One test for both sides (they share the indexed articles, the costly part): the same
    words, "my order", the same confident articles; only what is asked differs."""
    asking = await opened(bot_site)
    async with Chat(asking) as chat:
        for question, titles in OWN_ORDER_HYPOTHETICALS:
            await chat.say(question)
            reply = await chat.bot_message()
            assert VERIFY not in reply["text"], question
            cited = [c["title"] for c in reply.get("citations", [])]
            assert len(cited) == 1 and (titles is None or cited[0] in titles), (question, cited)
            assert await _state(asking) == {}, question  # no ask left pending
    requesting = await opened(bot_site)
    async with Chat(requesting) as chat:
        for request, action in OWN_ORDER_REQUESTS:
            await chat.say(request)
            reply = await chat.bot_message()
            assert VERIFY in reply["text"] and "citations" not in reply, request
            assert (await _state(requesting))["intent"] == action, request


async def test_a_signed_in_customer_asking_the_bot_to_list_what_they_ordered_gets_their_orders(
    bot_site, shop, articles
):
    """Issue 12 (test errors seen 2026-12-02): "Can you list what I've ordered?" was answered from
    the articles (a question shape with no "my"); asked of the bot, it is a request to look."""
    async with Chat(await opened(bot_site, customer_id="cust_1001")) as chat:
        await chat.say("Can you list what I've ordered?")
        reply = await chat.bot_message()
    assert "citations" not in reply and "don't know" not in reply["text"]
    assert all(number in reply["text"] for number in shop.values()), (shop, reply["text"])


async def test_asking_to_change_where_an_order_is_shipped_changes_the_address_not_reports_the_status(
    bot_site, shop, articles
):
    """Issue 12: "can you update where SB-… is being shipped" was read as a status check; "where is SB-…
    being shipped?" still is one."""
    pending, shipped = shop["pending"], shop["shipped"]
    session = await opened(bot_site, customer_id="cust_1001")
    async with Chat(session) as chat:
        await chat.say(f"can you update where {pending} is being shipped")
        ask = await chat.bot_message()
        assert "new address" in ask["text"] and "action" not in ask
        assert await _state(session) == {"intent": "change_order_address", "order_number": pending}
        await chat.say("12 Oak Lane, Springfield, IL 62704")
        card = (await chat.bot_message())["action"]
        assert card["tool"] == "change_order_address" and card["status"] == "proposed" and pending in card["summary"]
        await chat.send({"type": "action", "action_id": card["action_id"], "decision": "cancel"})
        await chat.wait_for(lambda f: f["type"] == "message" and "won't make that change" in f["text"])
        await chat.say(f"where is {shipped} being shipped?")
        status = await chat.bot_message()
    assert "tracking number 1Z" in status["text"] and "action" not in status


@pytest.fixture(scope="module")
def intent_report() -> dict:
    assert EVAL_SET.exists()
    return intent_eval(classifier=get_intent_classifier(), embed=local_minilm().embed)


def test_the_intent_classifier_tells_questions_from_requests_on_held_out_phrasings(intent_report):
    """The eval set's test split is hand-written in other shapes than the training templates and
    never trained on (conversations/bot/understanding/intent_eval.json)."""
    report = intent_report
    assert report["test"]["accuracy"] >= 0.9, report["test"]["errors"]
    assert report["test"]["actions_taken_for_questions"] <= 0.05
    assert report["test"]["questions_taken_for_actions"] <= 0.1
    # The batch written on 2026-12-02 before the fix (listing orders, changing where an order goes,
    # returns of worn items, with hard negatives): the decision the bot acts on, not just the label.
    assert report["test2"]["decision_accuracy"] >= 0.95, report["test2"]["decision_errors"]
    # The batch written before the test2 errors were fixed (indirect requests, complaints that imply
    # an action, first-person policy questions): never tuned on; 0.875 before and after.
    assert report["test3"]["decision_accuracy"] >= 0.85, report["test3"]["decision_errors"]


def test_paying_for_my_order_is_not_taken_for_a_status_request(intent_report):
    """ "I was charged twice for my order" got the order's status. Split dev4 was written before the
    rule changed (0.636), then the rule was chosen from its errors (0.864): a dev figure."""
    assert intent_report["dev4"]["decision_accuracy"] >= 0.85, intent_report["dev4"]["decision_errors"]


def test_a_demand_on_my_own_things_is_acted_on_when_the_classifier_is_unsure_it_is_a_question():
    """ "return my boots, only worn indoors": the circumstance after the demand reads like the
    worn-item questions (question 0.42); an article answering worn returns confidently must not
    turn the demand into an answer. A question the classifier is sure of stays a question, and a
    question's shape keeps the rule out."""
    from conversations.bot.understanding.intent import IntentGuess
    from conversations.bot.understanding.requests import requested_action
    from knowledge.selectors import Retrieval

    answered = Retrieval(chunks=[], confident=True)
    demand = "return my boots, only worn indoors"
    assert requested_action(text=demand, guess=IntentGuess("question", 0.42), retrieval=answered) == "return_order"
    assert requested_action(text=demand, guess=IntentGuess("question", 0.9), retrieval=answered) is None
    asked = "can my boots be returned, only worn indoors?"
    assert requested_action(text=asked, guess=IntentGuess("question", 0.42), retrieval=answered) is None


@pytest.mark.parametrize(
    ("text", "wants_a_person"),
    [
        ("can i send an order as a gift to someone else", False),
        ("can someone else pick up my parcel?", False),
        ("I ordered this for someone else, can they return it", False),
        ("I want someone else", True),
        ("can I speak to someone else", True),
        ("put me through to someone", True),
        ("this is useless, get me a real person", True),
        ("can I get someone else", True),
        ("do I need someone to sign for the delivery?", False),
        ("I need somebody to pick it up for me, is that ok?", False),
        ("ok, and I want someone else to help me now", True),
    ],
)
def test_someone_else_asks_for_a_person_only_as_whom_the_customer_wants_to_reach(text, wants_a_person):
    """ "can i send an order as a gift to someone else" was handed to a person (the bare words
    "someone else" were a handoff cue) although the classifier read a question (0.83)."""
    from conversations.bot.understanding.intent import IntentGuess
    from conversations.bot.understanding.requests import requested_action
    from knowledge.selectors import Retrieval

    action = requested_action(text=text, guess=IntentGuess("question", 0.83), retrieval=Retrieval([], confident=True))
    assert (action == "handoff_to_human") is wants_a_person


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("am I talking to a bot?", None),
        ("are you human?", None),
        ("are you a real person", None),
        ("are you a bot? I want to talk to a person", "handoff_to_human"),
        ("is this automated? get me a human", "handoff_to_human"),
        ("is this a bot?", None),
        ("are you a bot? cancel my order SB-100042", "cancel_order"),
    ],
)
def test_a_question_about_the_assistant_is_answered_and_a_request_for_a_person_still_hands_off(text, action):
    """ "are you human?" handed off on the word "human"; "am I talking to a bot?" got "I don't know"."""
    from conversations.bot.offline import offline_step
    from conversations.bot.understanding.intent import IntentGuess
    from conversations.bot.understanding.requests import requested_action
    from knowledge.selectors import Retrieval

    guess, retrieval = IntentGuess("handoff_to_human", 0.69), Retrieval([], confident=False)
    assert requested_action(text=text, guess=guess, retrieval=retrieval) == action
    if action is None:
        step = offline_step(text=text, state={}, verified=False, retrieval=retrieval, guess=guess)
        assert step.text.startswith("I'm an automated assistant") and step.answered


@pytest.mark.parametrize("text", ["is this machine washable?", "is that person allowed to pick up my parcel?"])
def test_a_product_question_shaped_like_one_about_the_assistant_is_not_one(text):
    from conversations.bot.offline import offline_step
    from conversations.bot.understanding.intent import IntentGuess
    from knowledge.selectors import Retrieval

    step = offline_step(
        text=text,
        state={},
        verified=False,
        retrieval=Retrieval([], confident=False),
        guess=IntentGuess("question", 0.9),
    )
    assert not step.text.startswith("I'm an automated assistant")


def test_deleting_my_account_is_not_taken_for_changing_its_address():
    """ "please delete my account" read as change_account_address (0.57) and got "What is the new
    address?"; the bot cannot delete accounts, the article says how. An address change on the
    account's own words still is one."""
    from conversations.bot.understanding.intent import IntentGuess
    from conversations.bot.understanding.requests import requested_action
    from knowledge.selectors import Retrieval

    guess = IntentGuess("change_account_address", 0.57)
    for confident in (True, False):
        retrieval = Retrieval(chunks=[], confident=confident)
        assert requested_action(text="please delete my account", guess=guess, retrieval=retrieval) is None
        for text in (
            "I moved, update my account please",
            "update my profile address to <STREET_ADDRESS_1>",
            "update my account, my zip code is wrong",
        ):
            assert requested_action(text=text, guess=guess, retrieval=retrieval) == "change_account_address"


def test_i_have_with_any_past_participle_makes_a_terse_question_about_my_own_orders():
    """ "orders i've made?" is question-shaped and says neither "my" nor "ordered": the rule that
    answers questions about orders in general ("what have other people ordered most?") took it."""
    from conversations.bot.understanding.intent import IntentGuess
    from conversations.bot.understanding.requests import requested_action
    from knowledge.selectors import Retrieval

    for confident in (True, False):
        retrieval = Retrieval(chunks=[], confident=confident)
        guess = IntentGuess("list_my_orders", 0.94)
        assert requested_action(text="orders i've made?", guess=guess, retrieval=retrieval) == "list_my_orders"
        others = "what have other people ordered most?"
        assert requested_action(text=others, guess=guess, retrieval=retrieval) is None


async def test_the_model_is_told_when_a_message_reads_as_a_policy_question_and_not_for_a_request(
    bot_site, articles, model_server
):
    from tests.fakes.model_server import Reply

    model_server.script(Reply(text="Returns are accepted within 30 days [1]."), Reply(text="Sure."))
    async with Chat(await opened(bot_site)) as chat:
        await chat.say("Can I return items after 30 days?")
        await chat.bot_message()
        await chat.say("I want to cancel my order")
        await chat.bot_message()
    question, request = model_server.chat_requests()
    hints = [
        [m["content"] for m in r["messages"] if m["role"] == "system" and "classifier reads" in m["content"]]
        for r in (question, request)
    ]
    assert len(hints[0]) == 1 and "call no order tool" in hints[0][0]
    assert hints[1] == []


def test_the_turn_retrieves_with_the_vector_of_the_text_retrieval_would_embed_itself(bot_site, articles):
    """The turn embeds its texts in one batch and hands retrieval the query vector: that vector
    must be of the misspelling-corrected text ("expres" -> "express") that retrieval searches
    with, or the dense and the full-text halves of the search read two different questions."""
    from conversations.bot.context import TurnInput
    from conversations.bot.turn_understanding import turn_understand
    from conversations.models import Customer
    from knowledge.selectors import knowledge_search

    conversation = Conversation.objects.create(site=bot_site, customer=Customer.objects.create(site=bot_site))
    question = "do expres orders ship the same day?"
    loaded = TurnInput(
        conversation_id=conversation.pk,
        public_id=str(conversation.public_id),
        site_id=bot_site.pk,
        company=bot_site.name,
        customer_id=None,
        question=question,
        history=[],
        earlier_summary="",
        state={},
        miss_streak=0,
        up_to_seq=1,
    )
    understood = async_to_sync(turn_understand)(loaded=loaded)
    alone = knowledge_search(question=understood.understood, audience="anonymous", language="en")
    assert understood.understood == question  # the bot's own shorthand list leaves it; retrieval corrects it
    assert [c.chunk_id for c in understood.retrieval.chunks] == [c.chunk_id for c in alone.chunks]
    assert [c.dense_score for c in understood.retrieval.chunks] == pytest.approx(
        [c.dense_score for c in alone.chunks], abs=1e-5
    )
    assert understood.retrieval.confidence == pytest.approx(alone.confidence, abs=1e-5)


def test_the_model_is_told_a_hypothetical_about_my_order_is_a_question_even_when_the_label_is_an_action():
    """The classifier may label "can i cancel my order after it ships?" cancel_order (0.61 with
    the committed weights) while the rules answer it; the model must get the question hint then,
    or a weaker model cancels. A request in the same words gets no hint."""
    from dataclasses import replace

    from conversations.bot.context import TurnInput
    from conversations.bot.turn import _model_messages
    from conversations.bot.understanding.intent import IntentGuess
    from knowledge.selectors import Retrieval

    hypothetical = TurnInput(
        conversation_id=1,
        public_id="p",
        site_id=1,
        company="Acme Outfitters",
        customer_id=None,
        question="can i cancel my order after it ships?",
        history=[],
        earlier_summary="",
        state={},
        miss_streak=0,
        up_to_seq=1,
    )
    answered = Retrieval(chunks=[], confident=True)

    def hints(loaded: TurnInput, guess: IntentGuess) -> list[str]:
        messages = _model_messages(loaded, "system prompt", answered, guess)
        return [m["content"] for m in messages if m["role"] == "system" and "classifier reads" in m["content"]]

    read_as_question = hints(hypothetical, IntentGuess(label="cancel_order", probability=0.61))
    assert len(read_as_question) == 1 and "call no order tool" in read_as_question[0]
    request = replace(hypothetical, question="cancel my order")
    assert hints(request, IntentGuess(label="cancel_order", probability=0.98)) == []
