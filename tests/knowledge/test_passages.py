"""What an answer quotes from the article it cites (knowledge/passages.py): a short article whole,
in order and with its headings, so the section that answers is there even when another section
ranked first; a long one by its best section, under its heading."""

from __future__ import annotations

import pytest

from knowledge.indexing import article_index
from knowledge.models import Article, Chunk
from knowledge.passages import PASSAGE_LIMIT, Section, answer_passage, passage_excerpt, passage_whole
from knowledge.selectors import knowledge_search
from knowledge.services import article_save

from .conftest import demo_articles_index

DELIVERY = """Most orders leave our warehouse within one business day.

# Delivery estimates

- Standard: 3-5 business days after shipping
- Express: 1-2 business days after shipping
"""


def test_a_short_article_is_quoted_whole_in_order_with_its_headings():
    sections = [
        Section(heading="", text="Most orders leave our warehouse within one business day."),
        Section(heading="Delivery estimates", text="- Standard: 3-5 business days\n- Express: 1-2 business days"),
    ]
    assert passage_whole(sections) == (
        "Most orders leave our warehouse within one business day.\n\n"
        "Delivery estimates:\n- Standard: 3-5 business days\n- Express: 1-2 business days"
    )


def test_a_heading_ending_in_a_question_mark_gets_no_colon():
    assert passage_whole([Section(heading="Can I cancel?", text="Yes, until it ships.")]) == (
        "Can I cancel?\nYes, until it ships."
    )


def test_inline_markdown_is_quoted_as_the_words_it_marks_up():
    section = Section(
        heading="", text="Choose **Forgot password**, or [write to us](mailto:help@acme.example) `now`. 3 * 2 < 7"
    )
    assert (
        passage_whole([section]) == "Choose Forgot password, or write to us (mailto:help@acme.example) now. 3 * 2 < 7"
    )


def test_an_article_longer_than_the_limit_is_not_quoted_whole():
    long_text = "A sentence about parcels. " * 40
    assert passage_whole([Section(heading="", text=long_text)], limit=PASSAGE_LIMIT) is None


def test_an_excerpt_keeps_its_heading_and_ends_at_a_sentence():
    section = Section(heading="What cannot be returned", text="Gift cards are final. " * 60)
    excerpt = passage_excerpt(section, limit=200)
    assert excerpt.startswith("What cannot be returned:\nGift cards are final.")
    assert excerpt.endswith("final.")
    assert len(excerpt) <= 200


@pytest.mark.django_db
def test_the_delivery_question_quotes_the_estimates_whatever_section_ranks_first():
    demo_articles_index({"delivery-times", "shipping-options", "return-policy"})
    retrieval = knowledge_search(question="How long does delivery take?", audience="anonymous")
    best = retrieval.chunks[0]
    assert best.article_slug == "delivery-times"
    passage = answer_passage(
        article_id=best.article_id,
        audience="anonymous",
        best=Section.of_chunk(heading_path=best.heading_path, text=best.text),
    )
    assert "Delivery estimates:\n- Standard: 3-5 business days" in passage
    assert passage.startswith("Most orders leave our warehouse")  # the author's order, not the ranking's


@pytest.mark.django_db
def test_a_section_that_reads_like_instructions_is_never_quoted():
    article = article_save(article=Article(slug="delivery", title="Delivery", body=DELIVERY, status="published"))
    assert article_index(article_id=article.pk) == "indexed"
    Chunk.objects.filter(article=article, heading_path="Delivery estimates").update(looks_like_instructions=True)
    passage = answer_passage(article_id=article.pk, audience="anonymous", best=Section(heading="", text="unused"))
    assert "3-5 business days" not in passage
    assert passage == "Most orders leave our warehouse within one business day."


@pytest.mark.django_db
def test_a_long_article_is_quoted_by_its_best_section_under_its_heading():
    body = "# Intro\n\n" + "Our parcels travel far and wide. " * 30 + "\n\n# Estimates\n\nStandard takes 3-5 days."
    article = article_save(article=Article(slug="long", title="Long", body=body, status="published"))
    assert article_index(article_id=article.pk) == "indexed"
    passage = answer_passage(
        article_id=article.pk,
        audience="anonymous",
        best=Section.of_chunk(heading_path="Long › Estimates", text="Standard takes 3-5 days."),
    )
    assert passage == "Estimates:\nStandard takes 3-5 days."


@pytest.mark.django_db
def test_an_article_indexed_in_small_overlapping_chunks_is_quoted_once_in_its_own_words(settings):
    settings.KB_CHUNK_MAX_TOKENS, settings.KB_CHUNK_OVERLAP_TOKENS = 24, 8
    body = (
        "# Returns\n\nYou can return unused items within 30 days. Standard takes three to five days. "
        "We ship to every EU country. Refunds reach your card within ten days."
    )
    article = article_save(article=Article(slug="returns", title="Returns", body=body, status="published"))
    assert article_index(article_id=article.pk) == "indexed"
    assert Chunk.objects.filter(article=article, kind="section").count() > 1  # overlapping chunks
    passage = answer_passage(article_id=article.pk, audience="anonymous", best=Section(heading="", text="unused"))
    assert passage.count("Returns:") == 1 and passage.count("We ship to every EU country.") == 1


@pytest.mark.django_db
def test_an_article_the_audience_may_not_read_is_never_quoted_whole():
    article = article_save(
        article=Article(slug="playbook", title="Playbook", body=DELIVERY, status="published", audience="internal")
    )
    best = Section(heading="", text="the chunk retrieval returned")
    assert answer_passage(article_id=article.pk, audience="anonymous", best=best) == "the chunk retrieval returned"
    assert "3-5 business days" in answer_passage(article_id=article.pk, audience="agent", best=best)
