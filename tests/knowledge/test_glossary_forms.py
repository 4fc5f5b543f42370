"""The glossary on word forms: a question that says "delivered", "refunds" or "shipped" uses the
group of "delivery", "refund" or "shipping", stemmed as Postgres's full-text index stems (real
Postgres, the local model): in the embedded text, the all-words full-text query and the coverage."""

from __future__ import annotations

import pytest

from knowledge.glossary import glossary_expand, same_form
from knowledge.indexing import article_index
from knowledge.models import Article, GlossaryEntry
from knowledge.query_text import embedded_text
from knowledge.retrieval_options import DEFAULT_OPTIONS, RetrievalOptions
from knowledge.selectors import knowledge_search
from knowledge.services import article_save

pytestmark = pytest.mark.django_db

ENTRIES = [
    ["delivery", "shipping", "shipment"],
    ["refund", "money back"],
    ["parcel", "package"],
    ["sign in", "log in"],
]


def test_a_glossary_term_is_found_in_its_other_word_forms():
    delivered = glossary_expand(question="whats the cheapest way to get stuff Delivered", entries=ENTRIES)
    assert delivered.synonyms == ["delivery", "shipping", "shipment"]
    assert delivered.alternatives == [("delivered", ["delivery", "shipping", "shipment"])]
    assert delivered.used_terms == ["delivered"]
    assert delivered.remainder == "whats the cheapest way to get stuff"
    assert glossary_expand(question="how do refunds work?", entries=ENTRIES).synonyms == ["money back"]
    # "shipped" is "shipping" to the stemmer: only the group's other words are added
    assert glossary_expand(question="has it shipped yet?", entries=ENTRIES).synonyms == ["delivery", "shipment"]
    # a phrase matches on its content words' forms, its stop words as written
    assert glossary_expand(question="I signed in twice", entries=ENTRIES).synonyms == ["log in"]
    assert glossary_expand(question="I signed up twice", entries=ENTRIES).synonyms == []


def test_word_forms_do_not_stretch_to_other_words():
    assert glossary_expand(question="my pack's strap broke", entries=ENTRIES).synonyms == []  # pack, packag
    assert glossary_expand(question="deliveryman hours", entries=ENTRIES).synonyms == []
    assert not same_form("pack", "packag") and not same_form("ship", "shipment")
    assert same_form("deliv", "deliveri") and same_form("cover", "coverag")
    # the lever off: whole words as written, as before
    assert glossary_expand(question="when is it delivered?", entries=ENTRIES, word_forms=False).synonyms == []


def test_the_embedded_text_gets_a_word_forms_synonyms_only_with_its_lever():
    question = "has it been delivered?"
    assert embedded_text(question=question, entries=ENTRIES, options=RetrievalOptions(glossary_forms=True)) == question
    with_forms = RetrievalOptions(glossary_forms=True, glossary_forms_embedded=True)
    assert embedded_text(question=question, entries=ENTRIES, options=with_forms) == (
        "has it been delivered? (delivery, shipping, shipment)"
    )
    # a term as written is expanded either way, as before word forms
    assert embedded_text(question="delivery times?", entries=ENTRIES, options=DEFAULT_OPTIONS) == (
        "delivery times? (shipping, shipment)"
    )


@pytest.fixture
def fees(db):
    for slug, title, body in [
        ("shipping-fees", "Shipping fees", "Shipping is free on orders over $75; below that the fee is $5.95."),
        ("returns", "Return policy", "Return unused items within 30 days for a full refund."),
    ]:
        article = article_save(article=Article(slug=slug, title=title, body=body, status="published"))
        assert article_index(article_id=article.pk) == "indexed"
    GlossaryEntry.objects.create(terms=["delivery", "shipping"])


def test_a_word_form_finds_the_synonyms_article_in_the_all_words_full_text(fees):
    # no article holds "delivered" (deliv): every word must match, so only the glossary finds it
    text_only = RetrievalOptions(questions=False, rerank=False, glossary_forms=False)
    assert knowledge_search(question="delivered fee", audience="anonymous", mode="text", options=text_only).chunks == []
    with_forms = RetrievalOptions(questions=False, rerank=False, glossary_forms=True)
    assert knowledge_search(
        question="delivered fee", audience="anonymous", mode="text", options=with_forms
    ).article_slugs == ["shipping-fees"]


def test_a_word_form_counts_as_covered_by_the_synonym_the_article_holds(fees):
    question = "what is the fee when my order is delivered?"
    before = knowledge_search(
        question=question, audience="anonymous", k=1, options=RetrievalOptions(glossary_forms=False)
    )
    after = knowledge_search(
        question=question, audience="anonymous", k=1, options=RetrievalOptions(glossary_forms=True)
    )
    assert before.article_slugs == after.article_slugs == ["shipping-fees"]
    assert "deliv" in before.chunks[0].missing_words
    assert "deliv" not in after.chunks[0].missing_words
    assert after.chunks[0].coverage > before.chunks[0].coverage
    assert after.confidence > before.confidence


def test_a_knowledge_base_without_a_glossary_stems_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        expansion = glossary_expand(question="has my parcel been delivered yet?", entries=[])
    assert expansion.synonyms == [] and expansion.remainder == "has my parcel been delivered yet?"
