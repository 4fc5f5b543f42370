"""Retrieval: hybrid dense (pgvector) + Postgres full-text search, audience-filtered in SQL.

Candidates come from two index scans (HNSW cosine, and the GIN tsvector for chunks containing
every word of the question: exact keyword matches such as codes and product names); both scores are then
computed exactly for every candidate and fused as `dense + KB_TEXT_WEIGHT * text`, where text
is ts_rank_cd normalized to [0, 1) (rank / (rank + 1)). A weighted sum of normalized scores
rather than equal-weight rank fusion: on the dev set naive RRF loses to dense alone, because a
lexical hit with a poor dense score outranks a strong semantic match; `kb_eval` measures the
weight against dense-only and text-only in the same run.

The audience filter is part of both scans' WHERE clauses, never applied afterwards: an
internal chunk can not reach a customer even when it is the closest match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.urls import reverse

from knowledge.embeddings import get_embedder
from knowledge.models import Article, Chunk

Audience = Literal["anonymous", "verified", "agent"]
Mode = Literal["hybrid", "dense", "text"]

AUDIENCE_ARTICLES: dict[str, list[str]] = {
    "anonymous": [Article.Audience.PUBLIC],
    "verified": [Article.Audience.PUBLIC, Article.Audience.VERIFIED_CUSTOMERS],
    "agent": [Article.Audience.PUBLIC, Article.Audience.VERIFIED_CUSTOMERS, Article.Audience.INTERNAL],
}

_CHUNK = Chunk._meta.db_table
_ARTICLE = Article._meta.db_table
# Only published articles have chunks (article_save deletes them on unpublish, in the same
# transaction), so filtering the chunk row is enough, and it lets the HNSW index drive the scan.
_FILTER = "c.audience = ANY(%(audiences)s) AND c.embedding_model = %(model)s AND NOT c.looks_like_instructions"
_SEARCH_SQL = f"""
WITH q AS (
    SELECT %(vector)s::vector AS v,
           -- every word of the question (stop words aside): an OR query matched most of a large
           -- corpus through common words, and building that bitmap cost ~20 ms at 100k chunks
           NULLIF(plainto_tsquery('english', %(text)s)::text, '')::tsquery AS t
), dense AS (
    -- The vector is a literal parameter here, not q.v: pgvector's index only serves an ORDER BY
    -- against a constant (a value from a joined CTE makes Postgres sort every row exactly).
    SELECT c.id FROM {_CHUNK} c
    WHERE {_FILTER}
    ORDER BY c.embedding <=> %(vector)s::vector
    LIMIT %(candidates)s
), lexical_matches AS (
    -- Ranking every match costs O(matches) (a common word matches most chunks), so rank a
    -- bounded sample; dense candidates get their exact text score below either way.
    SELECT c.id, c.search_vector FROM {_CHUNK} c, q
    WHERE {_FILTER} AND q.t IS NOT NULL AND c.search_vector @@ q.t
    LIMIT %(text_scan)s
), lexical AS (
    SELECT m.id FROM lexical_matches m, q
    ORDER BY ts_rank_cd(m.search_vector, q.t, 32) DESC
    LIMIT %(candidates)s
), candidates AS (
    SELECT id FROM dense WHERE %(use_dense)s UNION SELECT id FROM lexical WHERE %(use_text)s
)
SELECT c.id, a.id, a.title, a.slug, a.source_url, c.audience, c.heading_path, c.anchor, c.text,
       1 - (c.embedding <=> q.v) AS dense_score,
       COALESCE(ts_rank_cd(c.search_vector, q.t, 32), 0) AS text_score
FROM candidates JOIN {_CHUNK} c ON c.id = candidates.id JOIN {_ARTICLE} a ON a.id = c.article_id, q
WHERE a.status = 'published'
"""


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: int
    article_id: int
    article_title: str
    article_slug: str
    url: str
    heading_path: str
    text: str
    score: float
    dense_score: float
    text_score: float


@dataclass(frozen=True)
class Retrieval:
    chunks: list[RetrievedChunk]
    confident: bool  # is the best match good enough to answer from?

    @property
    def article_slugs(self) -> list[str]:
        return list(dict.fromkeys(c.article_slug for c in self.chunks))

    @property
    def citations(self) -> list[dict[str, str]]:
        seen: dict[int, dict[str, str]] = {}
        for chunk in self.chunks:
            seen.setdefault(chunk.article_id, {"title": chunk.article_title, "url": chunk.url})
        return list(seen.values())


def knowledge_search(
    *,
    question: str,
    audience: Audience,
    k: int = 5,
    mode: Mode = "hybrid",
    max_per_article: int = 2,
    text_weight: float | None = None,
    query_vector: list[float] | None = None,
) -> Retrieval:
    """`query_vector` lets a caller that already embedded the question (evaluation, benchmarks)
    skip embedding it again."""
    weight = settings.KB_TEXT_WEIGHT if text_weight is None else text_weight
    embedder = get_embedder()
    if query_vector is not None:
        vector = query_vector
    else:
        vector = embedder.embed([question])[0] if mode != "text" else [0.0] * embedder.dimensions
    params = {
        "vector": str(vector),
        "text": question,
        "audiences": AUDIENCE_ARTICLES[audience],
        "model": embedder.model_name,
        "candidates": max(4 * k, 40),
        "text_scan": settings.KB_TEXT_SCAN_LIMIT,
        "use_dense": mode != "text",
        "use_text": mode != "dense",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # HNSW filters after scanning: look at more neighbours so filtered-out audiences do not
        # starve the candidate list.
        cursor.execute("SET LOCAL hnsw.ef_search = 100")
        cursor.execute(_SEARCH_SQL, params)
        rows = cursor.fetchall()

    scored = []
    for chunk_id, article_id, title, slug, source_url, chunk_audience, heading_path, anchor, text, dense, lexical in rows:
        dense, lexical = float(dense), float(lexical)
        score = {"dense": dense, "text": lexical, "hybrid": dense + weight * lexical}[mode]
        url = source_url or _default_url(audience=chunk_audience, article_id=article_id, slug=slug)
        if anchor and url:
            url = f"{url}#{anchor}"
        scored.append(RetrievedChunk(chunk_id, article_id, title, slug, url, heading_path, text, score, dense, lexical))
    scored.sort(key=lambda c: c.score, reverse=True)

    chosen: list[RetrievedChunk] = []
    per_article: dict[int, int] = {}
    for chunk in scored:
        if per_article.get(chunk.article_id, 0) < max_per_article:
            chosen.append(chunk)
            per_article[chunk.article_id] = per_article.get(chunk.article_id, 0) + 1
        if len(chosen) == k:
            break
    best_dense = max((c.dense_score for c in chosen), default=0.0)
    return Retrieval(chunks=chosen, confident=best_dense >= settings.KB_ANSWER_THRESHOLD)


def _default_url(*, audience: str, article_id: int, slug: str) -> str:
    """Public articles link to their help page, internal ones (agents only) to the admin; articles
    for verified customers have no public page, so their citation carries no link."""
    if audience == Article.Audience.PUBLIC:
        return reverse("help-article", args=[slug])
    if audience == Article.Audience.INTERNAL:
        return reverse("admin:knowledge_article_change", args=[article_id])
    return ""


def chunks_from_other_models() -> dict[str, int]:
    """Chunks embedded by a model other than the configured one (retrieval skips them until
    `kb_reindex --all` re-embeds them), counted per model."""
    current = get_embedder().model_name
    rows = Chunk.objects.exclude(embedding_model=current).values_list("embedding_model").annotate(n=Count("id"))
    return dict(rows)
