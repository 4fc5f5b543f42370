"""Misspellings corrected towards the knowledge base's own words, for search only."""

from __future__ import annotations

import pytest

from knowledge.models import Article
from knowledge.query_text import knowledge_query_text
from knowledge.retrieval_options import BASELINE, RetrievalOptions
from knowledge.selectors import knowledge_search
from knowledge.services import article_save
from knowledge.spelling import english_words, one_edit, spelling_corrected, vocabulary_build
from tests.knowledge.test_retrieval_levers import RETURNS, SHIPPING, _article

KB_TEXTS = [
    "Return policy. Return unused items within 30 days for a full refund.",
    "Shipping costs: standard shipping is free over $75. Tracking numbers arrive by email.",
    "Cancel an order before it ships.",
]


@pytest.fixture(scope="module")
def vocabulary():
    return vocabulary_build(texts=KB_TEXTS, known=english_words())


def test_one_edit_reaches_drops_swaps_changes_and_additions():
    edits = one_edit("retrun")
    assert {"return", "retun", "retrurn", "betrun"} <= edits  # swap, drop, add, change
    assert "retrun" not in one_edit("xyz")


@pytest.mark.parametrize(
    "typed, searched",
    [
        ("retrun policy", "return policy"),
        ("how long for refnd", "how long for refund"),
        ("shiping costs?", "shipping costs?"),
        ("wheres my trackng number", "wheres my tracking number"),
        ("cancle my order", "cancel my order"),
        ("Retrun policy", "return policy"),  # the first word may be capitalised and is still corrected
    ],
)
def test_it_corrects_one_edit_typos_to_the_knowledge_bases_words(vocabulary, typed, searched):
    assert spelling_corrected(text=typed, vocabulary=vocabulary) == searched


@pytest.mark.parametrize(
    "text",
    [
        "how much is the dose",  # a real English word one edit from "does" stays as written
        "my order for Jonh",  # a capitalised word after the first is a name or a product
        "is SHPING a code",  # all capitals: a code
        "wen will it come",  # too short to correct safely
        "Wie lange dauert der Versand?",  # another language's words are nobody's typo
        "order SB-100042 for 2 tents",  # numbers and identifiers are untouched
    ],
)
def test_it_leaves_real_words_names_codes_and_other_languages_alone(vocabulary, text):
    assert spelling_corrected(text=text, vocabulary=vocabulary) == text


@pytest.mark.django_db
def test_a_misspelled_question_finds_its_article_and_the_bot_embeds_the_corrected_text():
    _article("returns", "Return policy", RETURNS)
    _article("shipping-costs", "Shipping costs", SHIPPING)
    assert knowledge_query_text(question="retrun policy") == "return policy"
    assert knowledge_search(question="retrun polcy", audience="anonymous", k=1).article_slugs == ["returns"]
    without = knowledge_search(
        question="retrun polcy", audience="anonymous", k=1, mode="text", options=RetrievalOptions(spelling=False)
    )
    assert without.article_slugs == []  # full text alone finds nothing for the typo
    assert knowledge_search(question="retrun polcy", audience="anonymous", k=1, mode="text").article_slugs == [
        "returns"
    ]
    assert not BASELINE.spelling


@pytest.mark.django_db
def test_a_newly_published_article_teaches_the_corrector_its_words_at_once():
    _article("returns", "Return policy", RETURNS)
    assert knowledge_query_text(question="warrenty claim") == "warrenty claim"
    article_save(
        article=Article(slug="warranty", title="Warranty", body="Our warranty covers defects.", status="published")
    )
    assert knowledge_query_text(question="warrenty claim") == "warranty claim"
