"""More than one language: the shipped catalogs, the widget's texts over HTTP, the customer's language
detected from what they write, system messages and the offline responder in that language over the
socket, retrieval's preference for articles in it, and the inbox badge. Real Postgres/Redis."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import polib
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.chat.transcript_mail import transcript_email_send
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import customer_message_post
from conversations.lib.language_detection import language_detect
from conversations.models import Conversation, Message
from guardrails.redaction import text_redact
from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.selectors import knowledge_search
from knowledge.services import article_save
from tests.bot_support import Chat
from tests.conftest import ORIGIN

LOCALE = Path(settings.LOCALE_PATHS[0])
PLACEHOLDER = re.compile(r"%\(\w+\)s")

RETURNS_EN = (
    "# Returning an order\n\nYou can return delivered items within 30 days for a full refund. Refunds reach "
    "the original payment method within 5 business days of the return being processed."
)


def _catalog(entries) -> dict:
    return {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in entries if e.msgid}


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_every_shipped_translation_is_complete_and_its_committed_mo_matches_the_po(language, tmp_path):
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(po) > 100
    for entry in po:
        assert not entry.fuzzy and not entry.obsolete, entry.msgid
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert text.strip(), f"{language}: no translation for {entry.msgid!r}"
            # The same placeholders, or the % formatting fails (or drops a value) at run time.
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(entry.msgid)), entry.msgid
    # Compiled again from the .po, the catalog must equal the committed .mo (run `compilemessages`).
    compiled = tmp_path / "django.mo"
    po.save_as_mofile(str(compiled))
    committed = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    assert _catalog(committed) == _catalog(polib.mofile(str(compiled)))


def test_it_detects_the_language_of_chat_messages_and_leaves_short_ones_to_the_widget():
    assert language_detect(text="Mein Paket ist nach zwei Wochen immer noch nicht da").language == "de"
    assert language_detect(text="Puis-je retourner des chaussures portées une fois ?").language == "fr"
    assert language_detect(text="¿Puedo cambiar la dirección de entrega por favor?").language == "es"
    assert language_detect(text="Can I change the delivery address please").language == "en"
    # Too little to tell: the widget's language stays.
    for short in ("ok", "hola", "danke!", "SB-100042", "<EMAIL_ADDRESS_1> SB-100042"):
        assert language_detect(text=short).language is None, short


@pytest.mark.django_db
def test_the_widget_gets_its_texts_in_the_page_language_and_english_for_others(client, site):
    german = client.get("/api/widget/config", {"site_key": site.key, "language": "de-AT"}, HTTP_ORIGIN=ORIGIN).json()
    assert german["language"] == "de"
    assert german["texts"]["talk_to_human"] == "Mit einem Menschen sprechen"
    assert german["texts"]["status_queue_position"] == "Sie sind Nr. %(position)s in der Warteschlange"
    assert german["greeting"] == "Hallo! Fragen Sie uns, was Sie möchten."  # the default greeting, translated
    portuguese = client.get(
        "/api/widget/config", {"site_key": site.key, "language": "pt-BR"}, HTTP_ORIGIN=ORIGIN
    ).json()
    assert portuguese["language"] == "en" and portuguese["texts"]["talk_to_human"] == "Talk to a human"

    site.greeting = "Willkommen bei Test Co!"  # a site's own greeting is shown as written
    site.save()
    opened = client.post(
        "/api/widget/conversations",
        data=json.dumps({"site_key": site.key, "language": "fr-CA"}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    ).json()
    assert (opened["widget_language"], opened["language"]) == ("fr", "fr")
    assert opened["texts"]["send"] == "Envoyer" and opened["site"]["greeting"] == "Willkommen bei Test Co!"
    conversation = Conversation.objects.get(public_id=opened["conversation_id"])
    assert (conversation.widget_language, conversation.language, conversation.language_detected) == ("fr", "fr", False)


@pytest.mark.django_db(transaction=True)
async def test_system_messages_reach_the_customer_in_the_language_they_write(site):
    session = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN, language="en")
    async with Chat(session) as chat:
        await chat.say("ok")  # too short to tell: still the widget's English
        await chat.say("Mein Paket ist nach zwei Wochen immer noch nicht angekommen")
        await chat.wait_for(lambda f: f["type"] == "ack" and f["seq"] == 2)
        await chat.send({"type": "request_human"})
        notice = await chat.wait_for(lambda f: f["type"] == "message" and f["role"] == "system")
    assert notice["text"] == "Wir haben eine Person aus unserem Team dazugebeten. Sie erhalten die Antwort direkt hier."
    conversation = await sync_to_async(Conversation.objects.get)(pk=session.conversation.pk)
    assert (conversation.widget_language, conversation.language, conversation.language_detected) == ("en", "de", True)


def _published(slug: str, title: str, body: str, language: str) -> Article:
    article = article_save(article=Article(slug=slug, title=title, body=body, status="published", language=language))
    assert article_index(article_id=article.pk) == "indexed"
    return article


@pytest.mark.django_db
def test_retrieval_prefers_the_article_in_the_customers_language_but_never_drops_the_only_answer():
    # Two versions of one article scoring alike; only their language differs.
    _published("returns", "Returns and refunds", RETURNS_EN, "en")
    _published("returns-de", "Returns and refunds (DE)", RETURNS_EN, "de")
    question = "How long do I have to return something for a refund?"
    assert (
        knowledge_search(question=question, audience="anonymous", language="de").chunks[0].article_slug == "returns-de"
    )
    assert knowledge_search(question=question, audience="anonymous", language="en").chunks[0].article_slug == "returns"

    Article.objects.filter(slug="returns-de").delete()
    only_english = knowledge_search(question=question, audience="anonymous", language="es")
    assert only_english.confident and only_english.chunks[0].article_slug == "returns"


@pytest.mark.django_db(transaction=True)
async def test_the_offline_responder_answers_from_an_english_article_and_says_it_is_only_in_english(bot_site):
    await sync_to_async(_published)("returns", "Returns and refunds", RETURNS_EN, "en")
    session = await sync_to_async(widget_session_open)(site_key=bot_site.key, origin=ORIGIN, language="de")
    async with Chat(session) as chat:
        # Too short to detect: the German page decides.
        await chat.say("refund?")
        reply = await chat.bot_message()
    assert reply["text"].startswith("Dieser Artikel ist nur auf Englisch verfügbar: „Returns and refunds“\n\n")
    assert "30 days" in reply["text"] and reply["citations"][0]["title"] == "Returns and refunds"


@pytest.mark.django_db
def test_the_language_follows_the_customers_messages_and_one_in_the_same_language_needs_no_query(site):
    conversation_id = widget_session_open(site_key=site.key, origin=ORIGIN, language="en").conversation.pk

    def say(text: str) -> None:
        # detected=[]: the socket's path, PII detection already done off the loop (none in these texts)
        customer_message_post(conversation_id=conversation_id, text=text, client_id=uuid.uuid4(), detected=[])

    def language() -> tuple[str, bool]:
        return Conversation.objects.values_list("language", "language_detected").get(pk=conversation_id)

    say("Mein Paket ist nach zwei Wochen immer noch nicht da")
    assert language() == ("de", True)
    with CaptureQueriesContext(connection) as queries:
        say("Können Sie bitte nachsehen, wo es gerade ist?")
    # The append (a plain psycopg statement, not captured here) told what the language already was.
    assert [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]] == []
    assert language() == ("de", True)
    say("Puis-je retourner des chaussures portées une fois ?")
    assert language() == ("fr", True)


@pytest.mark.django_db
def test_agents_see_the_customers_language_in_the_inbox(client, alice, site):
    session = widget_session_open(site_key=site.key, origin=ORIGIN, language="en")
    customer_message_post(
        conversation_id=session.conversation.pk,
        text="¿Dónde está mi pedido? Lo pedí hace dos semanas",
        client_id=uuid.uuid4(),
    )
    client.force_login(alice)
    listing = client.get("/inbox/").content.decode()
    assert (
        '<span class="badge language" title="Customer\'s language: Spanish, detected from their messages">ES</span>'
        in listing
    )
    page = client.get(f"/inbox/c/{session.conversation.public_id}/").content.decode()
    assert (
        '<span class="badge language" title="Customer\'s language: Spanish, detected from their messages">'
        "Spanish</span>" in page
    )
    assert Message.objects.filter(conversation_id=session.conversation.pk).count() == 1


@pytest.mark.django_db
def test_the_transcript_mail_is_written_in_the_customers_language(site, mailoutbox):
    session = widget_session_open(site_key=site.key, origin=ORIGIN, language="de")
    customer_message_post(
        conversation_id=session.conversation.pk,
        text="Mein Paket ist immer noch nicht da, bitte helfen",
        client_id=uuid.uuid4(),
    )
    address = text_redact(conversation_id=session.conversation.pk, text="kunde@example.com").text.strip()
    assert transcript_email_send(conversation_id=session.conversation.pk, email_placeholder=address)
    [mail] = mailoutbox
    assert mail.subject == "Ihr Gespräch mit Test Co" and mail.to == ["kunde@example.com"]
    assert mail.body.startswith("Ihr Gespräch mit Test Co\n")
    assert "] Sie: Mein Paket ist immer noch nicht da, bitte helfen" in mail.body
