"""The shop's product words (knowledge/products.py, `RetrievalOptions.product_words`): a product the
best article does not name does not lower the answer confidence ("is there a warranty on sleeping
bags?"), unless the article is about a product itself (its title or a heading names one), and a
word that is no product still does ("is the tent waterproof?"). Their import, admin and the demo
shop's list."""

from __future__ import annotations

import json
import re
from functools import partial
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from demoshop.demo_articles import DEMO_PRODUCTS
from demoshop.seed import _PRODUCTS
from knowledge.models import ProductWord
from knowledge.products import names_a_product, product_stems_in, product_terms_stemmed, without_product_words
from knowledge.query_text import knowledge_query_text, knowledge_reading_text
from knowledge.selectors import knowledge_search
from knowledge.services import product_words_import
from supportbot.llm.embeddings import get_embedder
from tests.knowledge.conftest import demo_articles_index
from tests.knowledge.searching import demo_retrieval

# the demo knowledge base's calibrated threshold (docs/performance.md, demo walk-through probes)
THRESHOLD = 0.586
_retrieval = partial(demo_retrieval, threshold=THRESHOLD)


@pytest.mark.django_db
def test_a_product_word_is_in_a_question_or_heading_when_all_its_stems_are():
    terms = product_terms_stemmed(["sleeping bag", "Tent", "stove"])
    assert set(terms) == {frozenset({"sleep", "bag"}), frozenset({"tent"}), frozenset({"stove"})}
    assert product_stems_in({"warranti", "sleep", "bag"}, terms) == {"sleep", "bag"}
    assert product_stems_in({"sleep", "well"}, terms) == set()  # half of "sleeping bag" is no product
    assert names_a_product([frozenset({"care", "tent"})], terms)
    assert not names_a_product([frozenset({"warranti"}), frozenset({"make", "claim"})], terms)


@pytest.mark.django_db
def test_a_product_the_best_article_lacks_does_not_lower_the_confidence_but_other_words_do(outdoor_shop):
    # one test, one fixture: indexing the three articles is most of its time; the product reading
    # (its own test below) is off, so that only the coverage lever differs
    product_words_import(terms=["tent", "sleeping bag", "stove", "mug"])

    on = _retrieval("is there a warranty on sleeping bags?", product_reading=False)
    off = _retrieval("is there a warranty on sleeping bags?", product_words=False, product_reading=False)
    assert on.article_slugs[0] == off.article_slugs[0] == "warranty"
    assert on.confident and not off.confident
    assert on.confidence > off.confidence

    # a word that is no product still counts: the near-miss stays refused
    assert not _retrieval("is the tent waterproof?").confident

    # an article about a product ("Caring for your tent") gets no free credit for another one
    stove = _retrieval("how do I clean my stove?")
    stove_off = _retrieval("how do I clean my stove?", product_words=False)
    assert stove.article_slugs[0] == "tent-care" and "stove" in stove.chunks[0].missing_words
    assert stove.confidence == pytest.approx(stove_off.confidence)


def test_kb_products_adds_words_once_and_refuses_a_bad_file_whole(db, tmp_path, capsys):
    good = tmp_path / "products.json"
    good.write_text(json.dumps(["Tent", "sleeping  bag", "tent"]))
    call_command("kb_products", str(good))
    assert "2 product words added" in capsys.readouterr().out
    call_command("kb_products", str(good))
    assert "0 product words added" in capsys.readouterr().out
    assert list(ProductWord.objects.values_list("term", flat=True)) == ["sleeping bag", "tent"]

    for content, message in (
        (json.dumps({"tent": 1}), "JSON list of words"),
        (json.dumps(["mug", 3]), "a product word is a word or short phrase"),
        (json.dumps(["mug", " "]), "can not be empty"),
        (json.dumps(["mug", "--"]), "needs a letter or a digit"),
        (json.dumps(["mug", "a very long product name indeed"]), "at most 4 words"),
        ('["mug",', "line 1"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        with pytest.raises(CommandError, match=message):
            call_command("kb_products", str(bad))
    assert ProductWord.objects.count() == 2  # nothing of a bad file was added
    with pytest.raises(CommandError, match="No such file"):
        call_command("kb_products", str(tmp_path / "missing.json"))


def test_product_words_are_edited_in_the_admin(admin_client):
    response = admin_client.post("/admin/knowledge/productword/add/", {"term": "  Sleeping   Bag "})
    assert response.status_code == 302
    assert ProductWord.objects.get().term == "sleeping bag"
    response = admin_client.post("/admin/knowledge/productword/add/", {"term": "sleeping bag"})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert "Product words" in admin_client.get("/admin/knowledge/").content.decode()


def test_the_demo_shop_lists_a_product_word_for_everything_it_sells():
    words = json.loads(DEMO_PRODUCTS.read_text(encoding="utf-8"))
    assert len(words) == len({" ".join(w.lower().split()) for w in words})
    for _sku, name, _price in _PRODUCTS:
        # whole words: a one-letter entry must not pass for every product name
        name_words = " ".join(re.findall(r"[a-z0-9]+", name.lower()))
        assert any(re.search(rf"\b{re.escape(word)}s?\b", name_words) for word in words), name


@pytest.fixture
def gear_shop(db):
    """Six demo articles where a product noun pulls toward the wrong one: the size guide talks
    about sleeping bags and boots, damaged deliveries about tents."""
    demo_articles_index(
        {"warranty", "return-policy", "damaged-delivery", "delivery-times", "size-guide", "shipping-options"}
    )
    product_words_import(terms=["tent", "sleeping bag", "boots", "stove"])


def test_the_question_without_its_product_words_finds_the_topic_the_product_hid(gear_shop):
    """ "how long would a sleeping bag take to get to dublin" was closest to the size guide and "can
    I return a used tent?" to the damaged-delivery article (walk-through probes, dev and dev3); the
    product reading finds the delivery and returns articles. A question with no product word and
    the product's own questions are read as before."""
    for question, wrong, right in (
        ("how long would a sleeping bag take to get to dublin", "size-guide", {"delivery-times", "shipping-options"}),
        ("can I return a used tent?", "damaged-delivery", {"return-policy"}),
    ):
        off = _retrieval(question, product_reading=False)
        on = _retrieval(question)
        assert off.article_slugs[0] == wrong, question
        assert on.article_slugs[0] in right, question
    plain = "how long does delivery take?"
    assert _retrieval(plain).confidence == pytest.approx(_retrieval(plain, product_reading=False).confidence)
    assert _retrieval("what size boots should I get?").article_slugs[0] == "size-guide"


def test_the_product_reading_is_the_question_without_whole_product_words(db):
    terms = product_terms_stemmed(["sleeping bag", "tent"])
    assert without_product_words("is there a warranty on sleeping bags?", terms) == "is there a warranty on"
    assert without_product_words("how well will I sleep?", terms) is None  # half of "sleeping bag" is none
    assert without_product_words("tent?", terms) is None  # nothing of substance left
    assert without_product_words("anything", ()) is None


def test_retrieval_given_the_product_readings_vector_finds_what_it_finds_embedding_it_itself(gear_shop):
    """A turn embeds `knowledge_reading_text` in its one batch (the model workers in a web
    process) and passes the vector: searching with it must give what retrieval finds embedding the
    reading itself."""
    question = "can I return a used tent?"
    reading = knowledge_reading_text(question=question)
    assert reading is not None and "tent" not in reading
    vectors = dict(
        zip(
            [knowledge_query_text(question=question), reading],
            get_embedder().embed([knowledge_query_text(question=question), reading]),
        )
    )
    with mock.patch.object(type(get_embedder()), "embed", side_effect=AssertionError("embedded again")):
        given = knowledge_search(
            question=question,
            audience="anonymous",
            threshold=THRESHOLD,
            query_vector=vectors[knowledge_query_text(question=question)],
            reading_vector=vectors[reading],
        )
    itself = knowledge_search(question=question, audience="anonymous", threshold=THRESHOLD)
    assert given.article_slugs == itself.article_slugs
    assert given.confidence == pytest.approx(itself.confidence)
    assert knowledge_reading_text(question="how long does delivery take?") is None


def test_a_turn_embeds_the_product_reading_in_its_one_batch(gear_shop):
    """`turn_texts` puts the reading among the texts the model workers embed in one call, so
    retrieval gets its vector instead of embedding it in the web process."""
    from conversations.bot.context import TurnInput
    from conversations.bot.turn_understanding import turn_texts

    def texts(question: str):
        loaded = TurnInput(
            conversation_id=1,
            public_id="c",
            site_id=1,
            company="Acme",
            customer_id=None,
            question=question,
            history=[],
            earlier_summary="",
            state={},
            miss_streak=0,
            up_to_seq=1,
        )
        return turn_texts(loaded=loaded)

    product = texts("can I return a used tent?")
    assert product.reading_text == knowledge_reading_text(question="can I return a used tent?")
    assert product.reading_text in product.embedded
    plain = texts("how long does delivery take?")
    assert plain.reading_text is None and len(plain.embedded) == len(set(plain.embedded))
