"""Hybrid retrieval on real pgvector + full-text, with the real local embedding model."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.selectors import knowledge_search
from knowledge.services import article_save

pytestmark = pytest.mark.django_db

ARTICLES = [
    (
        "refund-policy",
        "Refund policy",
        "public",
        "# Refunds\n\nRefunds are paid to the original card within 5-10 business days after we receive the return.",
    ),
    (
        "manual-refund-override",
        "Manual refund override (agent playbook)",
        "internal",
        "# Manual refund override\n\nAgents can force a manual refund override in the back office for orders stuck in review.",
    ),
    (
        "order-history",
        "Viewing your order history",
        "verified_customers",
        "# Order history\n\nSigned-in customers see every past order and its invoice under Account > Orders.",
    ),
    (
        "shipping-times",
        "Shipping times",
        "public",
        "# Standard shipping\n\nStandard shipping takes 3-5 business days.\n\n# Express shipping\n\nExpress ships the same day.",
    ),
]


@pytest.fixture
def knowledge(db):
    for slug, title, audience, body in ARTICLES:
        article = article_save(
            article=Article(slug=slug, title=title, audience=audience, body=body, status="published")
        )
        assert article_index(article_id=article.pk) == "indexed"


def test_an_internal_chunk_never_reaches_a_customer_even_when_it_is_the_closest_match(knowledge):
    question = "How do agents force a manual refund override?"
    assert knowledge_search(question=question, audience="agent", k=3).article_slugs[0] == "manual-refund-override"
    for audience in ("anonymous", "verified"):
        slugs = knowledge_search(question=question, audience=audience, k=10).article_slugs
        assert "manual-refund-override" not in slugs and slugs, audience


def test_verified_customer_articles_need_a_verified_customer(knowledge):
    question = "Where can I see my past orders and invoices?"
    assert knowledge_search(question=question, audience="verified", k=3).article_slugs[0] == "order-history"
    assert "order-history" not in knowledge_search(question=question, audience="anonymous", k=10).article_slugs


def test_an_unpublished_article_leaves_retrieval_at_once(knowledge):
    Article.objects.filter(slug="shipping-times").update(status=Article.Status.DRAFT)  # chunks still exist
    assert (
        "shipping-times"
        not in knowledge_search(question="How long does shipping take?", audience="agent", k=10).article_slugs
    )


def test_it_cites_the_heading_anchor_and_keeps_at_most_n_chunks_per_article(knowledge):
    result = knowledge_search(
        question="Can express orders ship the same day?", audience="anonymous", k=5, max_per_article=1
    )
    best = result.chunks[0]
    assert best.article_slug == "shipping-times" and best.heading_path == "Express shipping"
    assert best.url.endswith("#express-shipping")
    assert len(result.article_slugs) == len(result.chunks)
    assert result.citations[0]["title"] == "Shipping times"


def test_it_is_confident_about_covered_questions_only(knowledge):
    assert knowledge_search(question="How long do refunds take to reach my card?", audience="anonymous").confident
    assert not knowledge_search(question="Who painted the Mona Lisa?", audience="anonymous").confident


def test_text_only_mode_matches_words_and_dense_only_mode_matches_meaning(knowledge):
    assert knowledge_search(question="invoice", audience="verified", mode="text", k=1).article_slugs == [
        "order-history"
    ]
    assert knowledge_search(
        question="money back to my credit card", audience="anonymous", mode="dense", k=1
    ).article_slugs == ["refund-policy"]


def test_kb_eval_reports_each_mode(knowledge, tmp_path, capsys):
    questions = tmp_path / "questions.json"
    questions.write_text(
        json.dumps(
            [
                {"question": "When will my refund arrive?", "expected": ["refund-policy"]},
                {"question": "Is there same-day delivery?", "expected": ["shipping-times"]},
            ]
        )
    )
    call_command("kb_eval", str(questions), "--k", "1", "3", "--calibrate", "--json", str(tmp_path / "out.json"))
    out = capsys.readouterr().out
    assert "dense" in out and "text" in out and "hybrid" in out and "threshold 0." in out and "leave-one-out" in out
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert results["dense"]["recall@1"] == 1.0 and results["hybrid"]["recall@3"] == 1.0


def test_the_admin_test_a_question_page_shows_ranked_chunks_and_citations(knowledge, admin_client):
    page = admin_client.get(
        "/admin/knowledge/article/test-question/", {"question": "refund to my card", "audience": "anonymous"}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "The bot would answer" in html and "Refund policy" in html
    assert '<blockquote id="passage"' in html  # the text the bot's reply would quote
    assert "Manual refund override" not in html  # internal: not for an anonymous visitor
    agent_page = admin_client.get(
        "/admin/knowledge/article/test-question/", {"question": "manual refund override", "audience": "agent"}
    )
    assert "Manual refund override" in agent_page.content.decode()


def test_the_test_a_question_page_survives_a_confident_search_that_found_nothing(db, admin_client, settings):
    settings.KB_ANSWER_THRESHOLD = 0.0  # every confidence passes; nothing is indexed
    page = admin_client.get("/admin/knowledge/article/test-question/", {"question": "refund", "audience": "anonymous"})
    assert page.status_code == 200 and "Nothing retrievable for this audience" in page.content.decode()


def test_chunks_of_another_embedding_model_are_ignored_and_reported(knowledge, capsys):
    from knowledge.models import Chunk

    Chunk.objects.filter(article__slug="refund-policy").update(embedding_model="old/model")
    assert (
        "refund-policy" not in knowledge_search(question="refund to my card", audience="anonymous", k=10).article_slugs
    )
    call_command("kb_reindex")
    assert "re-embed them with the configured model" in capsys.readouterr().err
    call_command("kb_reindex", "--all")
    assert knowledge_search(question="refund to my card", audience="anonymous", k=1).article_slugs == ["refund-policy"]


def test_an_audience_change_applies_to_retrieval_at_once(knowledge):
    article = Article.objects.get(slug="refund-policy")
    article.audience = Article.Audience.INTERNAL
    article_save(article=article)  # no indexing run needed
    assert (
        "refund-policy" not in knowledge_search(question="refund to my card", audience="anonymous", k=10).article_slugs
    )
    assert "refund-policy" in knowledge_search(question="refund to my card", audience="agent", k=10).article_slugs
