"""What retrieval reads from the database on every question, kept per process for a while: the answer
threshold, the glossary, the shop's product words, the knowledge base's vocabulary and the articles'
title and heading stems. A save of any of their models clears them in the saving process at once
(knowledge/apps.py connects `knowledge_settings_changed`); other processes see it within
`_CACHE_SECONDS` (`_VOCABULARY_SECONDS` for what reads every article)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from knowledge.models import Article, ArticleQuestion, GlossaryEntry, KnowledgeBaseSettings, ProductWord
from knowledge.products import ProductTerms, heading_stems_build, product_terms_stemmed
from knowledge.spelling import Vocabulary, english_words, vocabulary_build


@dataclass(frozen=True)
class AnswerThreshold:
    value: float
    source: str  # "calibrated" (stored by kb_eval --apply) or "KB_ANSWER_THRESHOLD"
    note: str = ""


# The glossary and the stored threshold are read on every question; each process keeps them for a
# few seconds (saves two round trips per question), and a save in this process clears them at once.
_CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, object]] = {}


def _cached(key: str, load, seconds: float = _CACHE_SECONDS):
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is None or now - hit[0] > seconds:
        hit = (now, load())
        _cache[key] = hit
    return hit[1]


def knowledge_settings_changed(**_kwargs) -> None:
    _cache.clear()


def answer_threshold() -> AnswerThreshold:
    return _cached("threshold", _answer_threshold)


def _answer_threshold() -> AnswerThreshold:
    stored = KnowledgeBaseSettings.objects.filter(answer_threshold__isnull=False).first()
    if stored is not None and stored.answer_threshold is not None:
        return AnswerThreshold(stored.answer_threshold, "calibrated", stored.calibration_note)
    return AnswerThreshold(settings.KB_ANSWER_THRESHOLD, "KB_ANSWER_THRESHOLD")


# The vocabulary changes only when articles do (a save clears it); rebuilding it reads every
# published article, so it is kept longer than the glossary.
_VOCABULARY_SECONDS = 300.0


def kb_vocabulary() -> Vocabulary:
    return _cached("vocabulary", _kb_vocabulary, _VOCABULARY_SECONDS)


def _kb_vocabulary() -> Vocabulary:
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    texts = [f"{title} {body}" for title, body in published.values_list("title", "body").iterator(chunk_size=500)]
    texts += ArticleQuestion.objects.filter(article__in=published).values_list("text", flat=True)
    texts += [" ".join(terms) for terms in glossary_entries()]
    return vocabulary_build(texts=texts, known=english_words())


def glossary_entries() -> list[list[str]]:
    return _cached("glossary", _glossary_entries)


def _glossary_entries() -> list[list[str]]:
    return [[t.strip() for t in terms if t.strip()] for terms in GlossaryEntry.objects.values_list("terms", flat=True)]


def product_terms() -> ProductTerms:
    """The shop's product words, each as its stems; kept as long as the glossary."""
    return _cached("products", _product_terms)


def _product_terms() -> ProductTerms:
    return product_terms_stemmed(ProductWord.objects.values_list("term", flat=True))


def article_heading_stems() -> dict[int, tuple[frozenset[str], ...]]:
    """Each published article's title and headings, as stems: does it name a product? Read only for
    a question that holds a product word; kept as long as the vocabulary (a save clears it)."""
    return _cached("headings", _article_heading_stems, _VOCABULARY_SECONDS)


def _article_heading_stems() -> dict[int, tuple[frozenset[str], ...]]:
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    return heading_stems_build(published.values_list("id", "title", "body").iterator(chunk_size=500))
