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

from guardrails.injection.detector import untrusted_text_check
from guardrails.models import GuardrailEvent
from guardrails.services import guardrail_event_record
from knowledge.chunking import ChunkDraft, chunk_markdown
from knowledge.models import Article, Chunk
from knowledge.retrieval_options import DEFAULT_OPTIONS
from supportbot.llm.embeddings import get_embedder

SEARCH_CONFIG = "english"
# The title row (Chunk.Kind.TITLE) is written only while retrieval uses it: the lever lost on the
# faqproxy dev set (docs/performance.md), and an unused row per article would still sit in the
# HNSW index. Turning `RetrievalOptions.titles` on needs `kb_reindex --all`.
INDEX_TITLES = DEFAULT_OPTIONS.titles


def embedding_input(title: str, draft: ChunkDraft) -> str:
    """What gets embedded: the article title and heading path give a chunk its context."""
    context = " › ".join([title, *draft.headings])
    return f"{context}\n\n{draft.text}"


def article_index(*, article_id: int) -> str:
    """Index (or un-index) an article with its alternative questions; returns what happened:
    indexed, removed, stale or gone."""
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
    questions = list(article.questions.values_list("text", flat=True))
    embedder = get_embedder()
    # Alternative questions are embedded alone, without the title: they are meant to match the
    # customer's wording, not the article's. The title is embedded alone too, last (a TITLE row).
    titles = [article.title] if INDEX_TITLES else []
    vectors = embedder.embed([embedding_input(article.title, d) for d in drafts] + questions + titles)
    flagged = _instruction_like(drafts)
    question_rows = [
        (len(drafts) + n, text, vector, untrusted_text_check(text).flagged)
        for n, (text, vector) in enumerate(zip(questions, vectors[len(drafts) : len(drafts) + len(questions)]))
    ]
    title_vectors = vectors[len(drafts) + len(questions) :]

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
                looks_like_instructions=draft.ordinal in flagged,
            )
            for draft, vector in zip(drafts, vectors)
        )
        Chunk.objects.bulk_create(
            Chunk(
                article_id=article_id,
                kind=Chunk.Kind.QUESTION,
                ordinal=ordinal,
                text=text,
                token_count=len(text.split()),
                embedding=vector,
                embedding_model=embedder.model_name,
                audience=current.audience,
                search_vector="",
                looks_like_instructions=flagged_question,
            )
            for ordinal, text, vector, flagged_question in question_rows
        )
        Chunk.objects.bulk_create(
            Chunk(
                article_id=article_id,
                kind=Chunk.Kind.TITLE,
                ordinal=len(drafts) + len(question_rows),
                text=title,
                token_count=len(title.split()),
                embedding=vector,
                embedding_model=embedder.model_name,
                audience=current.audience,
                search_vector="",
                looks_like_instructions=untrusted_text_check(title).flagged,
            )
            for title, vector in zip(titles, title_vectors)
        )
        Chunk.objects.filter(article_id=article_id, kind=Chunk.Kind.SECTION).update(
            search_vector=SearchVector(Value(current.title), weight="A", config=SEARCH_CONFIG)
            + SearchVector("heading_path", weight="B", config=SEARCH_CONFIG)
            + SearchVector("text", weight="C", config=SEARCH_CONFIG)
        )
        Chunk.objects.filter(article_id=article_id, kind__in=[Chunk.Kind.QUESTION, Chunk.Kind.TITLE]).update(
            search_vector=SearchVector("text", weight="A", config=SEARCH_CONFIG)
        )
        note = ""
        flagged.update({ordinal: f"question: {text[:80]}" for ordinal, text, _, bad in question_rows if bad})
        if flagged:
            note = (
                f"{len(flagged)} chunk(s) read like instructions to the assistant (sections: "
                f"{', '.join(flagged.values())}) and are left out of answers; rephrase them."
            )
            for ordinal, heading in flagged.items():
                guardrail_event_record(
                    kind=GuardrailEvent.Kind.CONTEXT_DROPPED,
                    action=GuardrailEvent.Action.DROPPED,
                    detail={
                        "source": "knowledge_chunk",
                        "article_id": article_id,
                        "ordinal": ordinal,
                        "article": current.title,
                        "section": heading,
                    },
                )
        Article.objects.filter(pk=article_id).update(
            index_state=Article.IndexState.INDEXED, index_error=note, indexed_at=timezone.now()
        )
    return "indexed"


def _instruction_like(drafts: list[ChunkDraft]) -> dict[int, str]:
    """ordinal -> section heading of the chunks that read like instructions to the assistant."""
    return {d.ordinal: d.heading_path or "(top)" for d in drafts if untrusted_text_check(d.text).flagged}


def article_index_failed(*, article_id: int, error: str) -> None:
    Article.objects.filter(pk=article_id).update(index_state=Article.IndexState.FAILED, index_error=error[:2000])
