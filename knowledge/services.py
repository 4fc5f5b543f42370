"""Writes to the knowledge base: saving articles (with a revision every time) and restoring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from knowledge.models import Article, ArticleRevision, Chunk
from knowledge.tasks import index_article

if TYPE_CHECKING:
    from knowledge.importing import ArticleData


@transaction.atomic
def article_save(*, article: Article, author: Any = None) -> Article:
    """Save an article, snapshot it as its next revision, and (re)index it after commit.

    Unpublishing takes effect in retrieval at once (retrieval only reads published articles);
    the indexing run then removes its chunks.
    """
    if article.is_retrievable:
        article.index_state = Article.IndexState.PENDING
    else:
        article.index_state = Article.IndexState.NOT_INDEXED
    article.save()
    article_id = article.pk
    # Retrieval reads chunks only, so these take effect in this transaction, not at the next
    # indexing run: an unpublished article's chunks go, an audience change applies at once.
    if article.is_retrievable:
        Chunk.objects.filter(article_id=article_id).exclude(audience=article.audience).update(audience=article.audience)
    else:
        Chunk.objects.filter(article_id=article_id).delete()
    transaction.on_commit(lambda: index_article.delay(article_id))
    latest = ArticleRevision.objects.filter(article=article).aggregate(n=Max("number"))["n"] or 0
    ArticleRevision.objects.create(
        article=article,
        number=latest + 1,
        title=article.title,
        body=article.body,
        status=article.status,
        audience=article.audience,
        author=author if getattr(author, "is_authenticated", False) else None,
    )
    return article


def article_restore_revision(*, revision: ArticleRevision, author: Any = None) -> Article:
    """Bring a revision's content back as a new revision (history is never rewritten)."""
    article = revision.article
    article.title, article.body = revision.title, revision.body
    article.status, article.audience = revision.status, revision.audience
    return article_save(article=article, author=author)


def article_upsert(*, data: ArticleData, status: str, author: Any = None) -> Article:
    """Create the article with this slug, or update it in place (a new revision either way)."""
    article = Article.objects.filter(slug=data.slug).first() or Article(slug=data.slug)
    article.title, article.body, article.audience = data.title, data.body, data.audience
    article.source_url, article.tags, article.status = data.source_url, data.tags, status
    return article_save(article=article, author=author)
