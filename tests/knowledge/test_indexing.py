"""Indexing through a real Celery worker: published articles get embedded chunks, edits swap
them whole, unpublishing removes them."""

from __future__ import annotations

import time

import pytest

from knowledge.models import Article, Chunk
from knowledge.services import article_save
from tests.conftest import start_celery_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

BODY = """Our standard shipping takes 3-5 business days.

# Express delivery

Express orders placed before 2 pm ship the same day.
"""


@pytest.fixture
def worker(tmp_path):
    process = start_celery_worker(tmp_path / "worker.log", name="kb-test")
    yield tmp_path / "worker.log"
    stop(process)


def wait_for_state(article_id: int, state: str, log, timeout: float = 90.0) -> Article:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        article = Article.objects.get(pk=article_id)
        if article.index_state == state:
            return article
        time.sleep(0.2)
    raise AssertionError(f"article never reached {state!r}; worker log:\n{log.read_text()[-3000:]}")


def test_publishing_indexes_editing_swaps_and_unpublishing_removes(worker):
    article = article_save(article=Article(title="Shipping", slug="shipping", body=BODY, status="published"))
    assert article.index_state == "pending"
    wait_for_state(article.pk, "indexed", worker)

    chunks = list(Chunk.objects.filter(article=article).order_by("ordinal"))
    assert [(c.kind, c.heading_path) for c in chunks] == [
        ("section", ""),
        ("section", "Express delivery"),
    ]
    assert all(len(c.embedding) == 384 and c.embedding_model.endswith("all-MiniLM-L6-v2") for c in chunks)
    assert Chunk.objects.filter(article=article, search_vector="express").count() == 1  # the tsvector is filled

    article.body = "Shipping is free over $50.\n\n# Pickup\n\nCollect in store.\n\n# Express\n\nSame day."
    article_save(article=article)
    wait_for_state(article.pk, "indexed", worker)
    assert list(
        Chunk.objects.filter(article=article, kind=Chunk.Kind.SECTION)
        .values_list("heading_path", flat=True)
        .order_by("ordinal")
    ) == [
        "",
        "Pickup",
        "Express",
    ]

    article.status = Article.Status.ARCHIVED
    article_save(article=article)
    wait_for_state(article.pk, "not_indexed", worker)
    assert not Chunk.objects.filter(article=article).exists()
