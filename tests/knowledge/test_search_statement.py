"""knowledge_search runs as a server-side prepared statement: the same rows as the client-bound
query it replaced, on real Postgres + pgvector, per audience (a parameter of the generic plan),
past the executions after which Postgres may switch to a generic plan."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection, transaction

from knowledge import search_statement, selectors
from knowledge.indexing import article_index
from knowledge.models import Article, GlossaryEntry
from knowledge.query_text import knowledge_query_text
from knowledge.selectors import knowledge_search
from knowledge.services import article_save
from supportbot.llm.embeddings import get_embedder

pytestmark = pytest.mark.django_db

ARTICLES = [
    (
        "refund-policy",
        "Refund policy",
        "public",
        "# Refunds\n\nRefunds reach the original card within 5-10 business days.",
    ),
    (
        "refund-override",
        "Manual refund override (agent playbook)",
        "internal",
        "# Manual refund override\n\nAgents can force a refund in the back office for orders stuck in review.",
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
        "# Standard shipping\n\nStandard shipping takes 3-5 business days.\n\n# Express shipping\n\nExpress ships today.",
    ),
]
# No glossary term, one term (an OR-group in the full-text query), two terms: three statement shapes
QUESTIONS = ["how do I see my invoice", "how long does delivery take", "refund for delivery", "zzz qqq"]


def client_bound_rows(sql: str, params: dict) -> list[tuple]:
    """The execution knowledge_search had before: parameters bound into the text by Django's
    cursor, SET LOCAL in the same simple-protocol round trip, planned on every call."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {search_statement.HNSW_EF_SEARCH};{sql}", params)
        cursor.nextset()
        return cursor.fetchall()


@pytest.fixture
def knowledge(db):
    for slug, title, audience, body in ARTICLES:
        article = article_save(
            article=Article(slug=slug, title=title, audience=audience, body=body, status="published")
        )
        assert article_index(article_id=article.pk) == "indexed"
    GlossaryEntry.objects.create(terms=["delivery", "shipping"])
    GlossaryEntry.objects.create(terms=["refund", "money back"])


def test_the_prepared_search_returns_what_the_client_bound_query_returned(knowledge):
    vectors = {q: get_embedder().embed([knowledge_query_text(question=q)])[0] for q in QUESTIONS}

    def search(question: str, audience: str):
        found = knowledge_search(question=question, audience=audience, k=10, query_vector=vectors[question])
        return [(c.chunk_id, round(c.score, 9), round(c.coverage, 9)) for c in found.chunks], found.confidence

    with mock.patch.object(selectors, "search_rows", client_bound_rows):
        before = {(q, a): search(q, a) for q in QUESTIONS for a in ("anonymous", "verified", "agent")}
    assert any(chunks for chunks, _ in before.values()) and before[("zzz qqq", "agent")][0]
    executed_before = _search_statement_executions()
    # Postgres plans a prepared statement's first five executions for their values, then may
    # reuse a generic plan: compare past that point too.
    for _ in range(6):
        for (question, audience), expected in before.items():
            assert search(question, audience) == expected, (question, audience)
    executed = _search_statement_executions()
    added = {sql: n - executed_before.get(sql, 0) for sql, n in executed.items() if n > executed_before.get(sql, 0)}
    # prepared, on this connection: one statement per glossary shape, every search counted
    assert len(added) == 3 and sum(added.values()) == 6 * len(before), added


def _search_statement_executions() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%WITH q AS%"],
        )
        return dict(cursor.fetchall())
