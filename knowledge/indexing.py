"""Indexing one article: chunk, embed, and swap its chunks in one transaction.

The embedding runs outside any transaction (it can take seconds); the swap then happens under a
lock on the article row and only if the article has not changed meanwhile, so readers always see
either the complete old chunks or the complete new ones, and a stale run never overwrites a
newer one. Unpublished and archived articles leave retrieval at once: retrieval joins on
status, and this removes their chunks.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import Value
from django.utils import timezone

from knowledge.chunking import ChunkDraft, chunk_markdown
from knowledge.embeddings import get_embedder
from knowledge.models import Article, Chunk

SEARCH_CONFIG = "english"


def embedding_input(title: str, draft: ChunkDraft) -> str:
    """What gets embedded: the article title and heading path give a chunk its context."""
    context = " › ".join([title, *draft.headings])
    return f"{context}\n\n{draft.text}"


def article_index(*, article_id: int) -> str:
    """Index (or un-index) an article; returns what happened: indexed, removed, stale or gone."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "gone"
    if not article.is_retrievable:
        with transaction.atomic():
            Chunk.objects.filter(article_id=article_id).delete()
            Article.objects.filter(pk=article_id).update(index_state=Article.IndexState.NOT_INDEXED, index_error="")
        return "removed"

    drafts = chunk_markdown(
        article.body, max_tokens=settings.KB_CHUNK_MAX_TOKENS, overlap_tokens=settings.KB_CHUNK_OVERLAP_TOKENS
    ) or chunk_markdown(article.title)  # a body-less article is still findable by its title
    embedder = get_embedder()
    vectors = embedder.embed([embedding_input(article.title, d) for d in drafts])

    with transaction.atomic():
        current = Article.objects.select_for_update().filter(pk=article_id).first()
        if current is None:
            return "gone"
        if current.updated_at != article.updated_at:
            return "stale"  # saved again while we embedded; that save queued its own run
        Chunk.objects.filter(article_id=article_id).delete()
        Chunk.objects.bulk_create(
            Chunk(
                article_id=article_id,
                ordinal=draft.ordinal,
                heading_path=draft.heading_path,
                anchor=draft.anchor,
                text=draft.text,
                token_count=draft.token_count,
                embedding=vector,
                embedding_model=embedder.model_name,
                audience=current.audience,
                search_vector="",
            )
            for draft, vector in zip(drafts, vectors)
        )
        Chunk.objects.filter(article_id=article_id).update(
            search_vector=SearchVector(Value(current.title), weight="A", config=SEARCH_CONFIG)
            + SearchVector("heading_path", weight="B", config=SEARCH_CONFIG)
            + SearchVector("text", weight="C", config=SEARCH_CONFIG)
        )
        Article.objects.filter(pk=article_id).update(
            index_state=Article.IndexState.INDEXED, index_error="", indexed_at=timezone.now()
        )
    return "indexed"


def article_index_failed(*, article_id: int, error: str) -> None:
    Article.objects.filter(pk=article_id).update(index_state=Article.IndexState.FAILED, index_error=error[:2000])
