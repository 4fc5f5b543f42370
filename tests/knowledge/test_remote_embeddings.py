"""EMBEDDING_PROVIDER=openai: indexing and retrieval through an OpenAI-compatible embeddings
endpoint (a real HTTP server reached by the real openai SDK)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge.indexing import article_index
from knowledge.models import Article, Chunk
from knowledge.selectors import knowledge_search
from knowledge.services import article_save
from supportbot.llm.embeddings import get_embedder
from tests.fakes.model_server import FakeModelServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def embeddings_endpoint(settings):
    server = FakeModelServer().start()
    settings.EMBEDDING_PROVIDER = "openai"
    settings.EMBEDDING_BASE_URL = server.base_url
    settings.EMBEDDING_MODEL = "fake-embed-384"
    get_embedder.cache_clear()
    yield server
    get_embedder.cache_clear()
    server.stop()


def test_it_indexes_and_searches_with_the_remote_model(embeddings_endpoint):
    article = article_save(
        article=Article(
            title="Gift cards",
            slug="gift-cards",
            status="published",
            body="Gift cards never expire and work in every store.",
        )
    )
    assert article_index(article_id=article.pk) == "indexed"

    chunk = Chunk.objects.get(article=article, kind=Chunk.Kind.SECTION)
    assert chunk.embedding_model == "fake-embed-384" and len(chunk.embedding) == 384
    embedding_calls = [body for body in embeddings_endpoint.requests if body.get("model") == "fake-embed-384"]
    assert embedding_calls[0]["dimensions"] == 384
    assert "Gift cards never expire" in embedding_calls[0]["input"][0]

    result = knowledge_search(question="do gift cards expire", audience="anonymous")
    assert result.chunks and result.chunks[0].article_id == article.pk
    assert embeddings_endpoint.requests[-1]["input"] == ["do gift cards expire"]


def test_a_model_of_another_size_says_a_reindex_and_migration_are_needed(embeddings_endpoint, settings):
    settings.EMBEDDING_SEND_DIMENSIONS = False
    embeddings_endpoint.embedding_dimensions = 256
    get_embedder.cache_clear()
    with pytest.raises(ImproperlyConfigured, match=r"returned 256-d vectors .* kb_reindex --all"):
        get_embedder().embed(["hello"])
