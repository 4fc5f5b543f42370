"""Writes to the knowledge base: saving articles (with a revision every time) and restoring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from knowledge.models import Article, ArticleQuestion, ArticleRevision, Chunk, GlossaryEntry, ProductWord
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


@transaction.atomic
def article_upsert(*, data: ArticleData, status: str, author: Any = None) -> Article:
    """Create the article with this slug, or update it in place (a new revision either way).
    Its alternative questions are replaced when the data lists them; indexing runs after commit,
    so it sees them."""
    article = Article.objects.filter(slug=data.slug).first() or Article(slug=data.slug)
    article.title, article.body, article.audience = data.title, data.body, data.audience
    article.source_url, article.tags, article.status = data.source_url, data.tags, status
    if data.language is not None:
        article.language = data.language
    article = article_save(article=article, author=author)
    if data.questions is not None:
        article_questions_set(article=article, questions=data.questions)
    return article


def article_questions_set(*, article: Article, questions: list[str]) -> None:
    """Replace the article's alternative questions (the caller re-indexes, e.g. via article_save)."""
    ArticleQuestion.objects.filter(article=article).exclude(text__in=questions).delete()
    existing = set(ArticleQuestion.objects.filter(article=article).values_list("text", flat=True))
    ArticleQuestion.objects.bulk_create(
        ArticleQuestion(article=article, text=q) for q in questions if q not in existing
    )


MAX_GLOSSARY_TERMS = 8
GLOSSARY_TERM_MAX_CHARS = 60


def glossary_terms_clean(*, terms: object) -> list[str]:
    """Lower-cased, deduplicated terms of one synonym group, or ValueError saying what is wrong."""
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise ValueError("a glossary entry is a list of words or phrases")
    cleaned = list(dict.fromkeys(" ".join(t.lower().split()) for t in terms if t.strip()))
    if len(cleaned) < 2:
        raise ValueError(f"{terms!r}: a glossary entry needs at least two different terms")
    if len(cleaned) > MAX_GLOSSARY_TERMS or any(len(t) > GLOSSARY_TERM_MAX_CHARS for t in cleaned):
        raise ValueError(
            f"{terms!r}: at most {MAX_GLOSSARY_TERMS} terms of at most {GLOSSARY_TERM_MAX_CHARS} characters"
        )
    return cleaned


@transaction.atomic
def glossary_import(*, groups: object) -> int:
    """Add synonym groups that are not there yet; all or nothing (a bad group fails the import)."""
    if not isinstance(groups, list):
        raise ValueError("the glossary file must hold a JSON list of synonym groups")
    cleaned = [glossary_terms_clean(terms=g) for g in groups]
    existing = {tuple(sorted(t)) for t in GlossaryEntry.objects.values_list("terms", flat=True)}
    added = 0
    for terms in cleaned:
        if tuple(sorted(terms)) not in existing:
            GlossaryEntry.objects.create(terms=terms)
            existing.add(tuple(sorted(terms)))
            added += 1
    return added


PRODUCT_WORD_MAX_CHARS = 60
PRODUCT_WORD_MAX_WORDS = 4


def product_word_clean(*, term: object) -> str:
    """A product word lower-cased with its spaces collapsed, or ValueError saying what is wrong."""
    if not isinstance(term, str):
        raise ValueError(f"{term!r}: a product word is a word or short phrase (a string)")
    cleaned = " ".join(term.lower().split())
    if not cleaned:
        raise ValueError("a product word can not be empty")
    if not any(character.isalnum() for character in cleaned):  # it would match nothing, silently
        raise ValueError(f"{term!r}: a product word needs a letter or a digit")
    if len(cleaned) > PRODUCT_WORD_MAX_CHARS or len(cleaned.split()) > PRODUCT_WORD_MAX_WORDS:
        raise ValueError(f"{term!r}: at most {PRODUCT_WORD_MAX_WORDS} words and {PRODUCT_WORD_MAX_CHARS} characters")
    return cleaned


@transaction.atomic
def product_words_import(*, terms: object) -> int:
    """Add the product words that are not there yet; all or nothing (a bad word fails the import)."""
    if not isinstance(terms, list):
        raise ValueError('the product words file must hold a JSON list of words, e.g. ["tent", "sleeping bag"]')
    cleaned = list(dict.fromkeys(product_word_clean(term=t) for t in terms))
    existing = set(ProductWord.objects.filter(term__in=cleaned).values_list("term", flat=True))
    added = [t for t in cleaned if t not in existing]
    for term in added:  # one by one: each save clears retrieval's cached catalogue (a signal)
        ProductWord.objects.create(term=term)
    return len(added)
