"""Retrieval: dense (pgvector) + Postgres full-text search, audience-filtered in SQL, ranked per
article.

Candidates come from two index scans: HNSW cosine over section chunks and alternative-question
vectors, and the GIN tsvector for chunks holding every word of the question (or of a variant with
a glossary synonym swapped in). Both scores are computed exactly for every candidate and fused as
`dense + KB_TEXT_WEIGHT * text`, then each article gets the best of its sections' and its
alternative questions' scores: a hit on an alternative question ranks the article, but what is returned and
cited is always the article's best section. A cheap field rerank then favours articles whose
title or headings contain the question's words, and one whose text holds more of the question's
words (coverage) gains a little: "return policy for a tent?" is about returns, and the returns
article holds "return" and "policy" where the warranty article holds only "tent". Any-word full
text with reciprocal rank fusion is kept as an option: it lost on the dev split. `kb_eval --levers` measures each lever against
the others in one run (docs/architecture.md, "Knowledge retrieval").

The audience filter is part of both scans' WHERE clauses, never applied afterwards: an
internal chunk can not reach a customer even when it is the closest match.

The levers live in knowledge/retrieval_options.py, the per-process cached reads (threshold,
glossary, product words, vocabulary, headings) in knowledge/kb_cache.py.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.urls import reverse

from knowledge.glossary import Expansion, all_words_tsquery, glossary_expand
from knowledge.kb_cache import (
    answer_threshold,
    article_heading_stems,
    glossary_entries,
    product_terms,
)
from knowledge.models import Article, Chunk
from knowledge.products import ProductTerms, names_a_product, product_stems_in
from knowledge.query_text import embedded_text, product_reading_text, question_for_search
from knowledge.query_vectors import adapted, with_feedback
from knowledge.question_pieces import question_pieces
from knowledge.retrieval_options import DEFAULT_OPTIONS, RetrievalOptions
from knowledge.search_statement import (
    ARTICLE_TABLE,
    CHUNK_FILTER,
    CHUNK_TABLE,
    NO_READING_SQL,
    READING_SQL,
    SEARCH_SQL,
    search_rows,
)
from knowledge.soft_coverage import ArticleWords, SoftMatch, soft_matcher
from supportbot.llm.embeddings import get_embedder

Audience = Literal["anonymous", "verified", "agent"]
Mode = Literal["hybrid", "dense", "text"]

AUDIENCE_ARTICLES: dict[str, list[str]] = {
    "anonymous": [Article.Audience.PUBLIC],
    "verified": [Article.Audience.PUBLIC, Article.Audience.VERIFIED_CUSTOMERS],
    "agent": [Article.Audience.PUBLIC, Article.Audience.VERIFIED_CUSTOMERS, Article.Audience.INTERNAL],
}


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
    matched_question: str = ""  # the article's alternative question (or title row) that ranked it, if one did
    question_score: float = 0.0  # that question's similarity to the customer's
    coverage: float = 0.0  # share of the question's words (at most `coverage_words` of them; or their glossary synonyms) in the article's retrieved text
    # share of the question's words this article lacks but another candidate article holds
    coverage_elsewhere: float = 0.0
    # the question's words (stemmed, as the full-text index holds them) the article lacks
    missing_words: tuple[str, ...] = ()
    article_language: str = "en"
    # the missing words counted as covered by a close word of the article (`soft_coverage`)
    soft_matches: tuple[SoftMatch, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    chunks: list[RetrievedChunk]
    confident: bool  # is the best match good enough to answer from?
    confidence: float = 0.0  # the signal compared with the threshold
    threshold: float = 0.0
    # what an answer quotes from the best article (knowledge/passages.py); filled by the bot turn
    # when it answers, not by the search
    passage: str = ""

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
    options: RetrievalOptions | None = None,
    glossary: list[list[str]] | None = None,
    threshold: float | None = None,
    language: str | None = None,
    piece_vectors: list[list[float]] | None = None,
    reading_vector: list[float] | None = None,
) -> Retrieval:
    """`language`, the customer's, ranks articles written in it above others that score about as
    well; it never filters (an English article that answers beats no answer).

    `query_vector` lets a caller that already embedded the question (evaluation, benchmarks)
    skip embedding it again; it must be the vector of `embedded_text(...)`, and `piece_vectors` those
    of `question_pieces(question)` (the `pieces` lever; embedded here when not given), and
    `reading_vector` that of `knowledge_reading_text(...)` (the `product_reading` lever). `glossary` and
    `threshold`, when given, spare their database reads."""
    options = options or DEFAULT_OPTIONS
    question = question_for_search(question=question, options=options)
    weight = settings.KB_TEXT_WEIGHT if text_weight is None else text_weight
    embedder = get_embedder()
    entries = glossary_entries() if glossary is None else glossary
    expansion = (
        glossary_expand(question=question, entries=entries, word_forms=options.glossary_forms)
        if options.glossary
        else Expansion([])
    )
    reading = product_reading_text(question=question, entries=entries, options=options) if mode != "text" else None
    if query_vector is not None:
        vector = query_vector
    elif mode == "text":
        vector = [0.0] * embedder.dimensions
    else:
        # the product reading's text in the same call: one model round trip, not two
        texts = [embedded_text(question=question, entries=entries, options=options, expansion=expansion)]
        if reading is not None and reading_vector is None:
            texts.append(reading)
        vector, *rest = embedder.embed(texts)
        if rest:
            reading_vector = rest[0]
    if options.query_adapter and mode != "text":
        vector = adapted(vector, model_name=embedder.model_name)
    if options.any_words:
        texts = [question, *expansion.synonyms]
        # plainto_tsquery joins the words with & (every word); | makes it any word
        parts = ", ".join(
            f"NULLIF(replace(plainto_tsquery('english', %(text{n})s)::text, '&', '|'), '')" for n in range(len(texts))
        )
        tsquery = f"concat_ws(' | ', {parts})"
    else:
        texts = [question]
        tsquery = ""  # below, once params exist
    params: dict[str, str | int | float | bool | list[str]] = {
        "vector": str(vector),
        **{f"text{n}": text for n, text in enumerate(texts)},
        "audiences": AUDIENCE_ARTICLES[audience],
        "model": embedder.model_name,
        "use_dense": mode != "text",
        "use_text": mode != "dense",
        "use_questions": options.questions,
        "use_titles": options.titles,
        "synonyms": " ".join(expansion.synonyms),
        "used_terms": " ".join(expansion.used_terms),
    }
    if not options.any_words:
        tsquery = all_words_tsquery(expansion, params)
    if reading is not None:
        if reading_vector is None:
            reading_vector = embedder.embed([reading])[0]
        if options.query_adapter:
            reading_vector = adapted(reading_vector, model_name=embedder.model_name)
        params["reading"] = str(reading_vector)
    reading_sql = {
        key: part.format(chunk=CHUNK_TABLE, filter=CHUNK_FILTER, candidates=max(4 * k, 40))
        for key, part in (READING_SQL if reading is not None else NO_READING_SQL).items()
    }
    # The limits are part of the statement's text, not parameters: a prepared statement's generic
    # plan then still knows it reads 40 rows from the HNSW index (a LIMIT $n is planned as 10% of
    # the table). They are integers computed here, never input.
    sql = SEARCH_SQL.format(
        tsquery=tsquery,
        chunk=CHUNK_TABLE,
        article=ARTICLE_TABLE,
        filter=CHUNK_FILTER,
        candidates=max(4 * k, 40),
        text_scan=int(settings.KB_TEXT_SCAN_LIMIT),
        **reading_sql,
    )
    rows = search_rows(sql, params)
    if options.feedback and mode != "text":
        # column 10 is the chunk's similarity: the first search's best chunks, whatever found them
        best = sorted(rows, key=lambda row: row[10], reverse=True)[: options.feedback]
        vector = with_feedback(vector, chunk_ids=[row[0] for row in best], weight=options.feedback_weight)
        params["vector"] = str(vector)
        rows = search_rows(sql, params)
    if options.pieces and mode != "text":
        pieces = question_pieces(question)
        if piece_vectors is None:
            piece_vectors = embedder.embed(pieces) if pieces else []
        for piece_vector in piece_vectors[: len(pieces)]:
            rows += search_rows(sql, {**params, "vector": str(piece_vector)})
        rows = _best_rows(rows)
    chosen = _rank(
        rows,
        audience=audience,
        mode=mode,
        options=options,
        weight=weight,
        k=k,
        max_per_article=max_per_article,
        language=language,
        products=product_terms() if options.product_words else (),
        question=question,
    )
    if threshold is None:
        threshold = answer_threshold().value
    confidence = answer_confidence(chosen[0], options=options) if chosen else 0.0
    if options.topic_reading and chosen and options.topic_floor <= confidence < threshold:
        # Only below the threshold: the better reading can only raise the confidence, so above it
        # the answer is decided and the second embedding is not worth its milliseconds.
        confidence = max(
            confidence, topic_confidence(question=question, best=chosen[0], audience=audience, options=options)
        )
    return Retrieval(chunks=chosen, confident=confidence >= threshold, confidence=confidence, threshold=threshold)


def _best_rows(rows: list[tuple]) -> list[tuple]:
    """One row per chunk, the one with the highest similarity (column 10, dense_score): the same
    chunk comes back from the whole question's search and its pieces'."""
    best: dict[int, tuple] = {}
    for row in rows:
        if row[0] not in best or row[10] > best[row[0]][10]:
            best[row[0]] = row
    return list(best.values())


def answer_confidence(chunk: RetrievedChunk, *, options: RetrievalOptions = DEFAULT_OPTIONS) -> float:
    """How sure retrieval is that the best article answers: the best similarity (of a section or
    an alternative question) plus word coverage, scaled back to [0, 1]. Similarity alone cannot
    tell "how do I wash my down jacket?" from "how do I wash my tent?", but the tent article not
    holding "jacket" can. Coverage here discounts the missing words that other candidate articles
    hold (`explained_word_weight`): a product the knowledge base talks about elsewhere ("return
    policy for a tent?") lowers it less than a word no candidate holds ("is the tent waterproof?")."""
    missing_weight = 1.0 - (1.0 - options.explained_word_weight) * chunk.coverage_elsewhere
    coverage = chunk.coverage / missing_weight if missing_weight > 0 else 0.0
    similarity = max(chunk.dense_score, chunk.question_score)
    return (similarity + options.coverage_weight * coverage) / (1 + options.coverage_weight)


_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def _holds_stem(token: str, stems: tuple[str, ...]) -> bool:
    """Does `token` stem to one of `stems`? Hand-written approximation of Postgres's English
    Snowball stemmer for this one use (no stemmer package is installed, and asking Postgres costs
    a round trip): a stem is the word's start, give or take a final y/i ("policy" -> "polici")
    and a suffix of up to four letters."""
    word = token.lower()
    for stem in stems:
        root = stem[:-1] if stem.endswith("i") else stem
        if word == stem or (word.startswith(root) and len(word) - len(root) <= 4):
            return True
    return False


def topic_question(*, question: str, best: RetrievedChunk) -> str | None:
    """The question without the words the best article lacks ("return policy for a tent?" ->
    "return policy for a ?"): the part of it the article speaks to. None when it lacks none, or
    nothing of substance would be left."""
    if not best.missing_words:
        return None
    tokens = _TOKEN.findall(question)
    kept = [t for t in tokens if not _holds_stem(t, best.missing_words)]
    if len(kept) == len(tokens) or not any(len(t) > 3 for t in kept):
        return None
    return " ".join(kept)


def topic_confidence(*, question: str, best: RetrievedChunk, audience: Audience, options: RetrievalOptions) -> float:
    """The confidence of the question's topic reading: `topic_question` embedded and scored
    against every vector of the best article (sections and alternative questions), with the
    question's word coverage unchanged, less `options.topic_margin`. MiniLM weighs a product noun
    heavily, so "return policy for a tent?" is only 0.50 similar to "What is your return policy?"
    though the returns article answers it; the words left are not. The missing words still count
    against the coverage, so "is the tent waterproof?" (the tent-care article lacks "waterproof")
    stays low. One more embedding and one indexed query on the best article's chunks, only for a
    question below the threshold that the article does not fully cover; 0.0 when nothing is left
    to score. Stripping only the words another candidate article holds was measured and lost."""
    stripped = topic_question(question=question, best=best)
    if stripped is None:
        return 0.0
    embedder = get_embedder()
    vector = embedder.embed([stripped])[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(1 - (c.embedding <=> %(vector)s::vector)) FROM {CHUNK_TABLE} c "
            f"WHERE c.article_id = %(article)s AND {CHUNK_FILTER}",
            {
                "vector": str(vector),
                "article": best.article_id,
                "audiences": AUDIENCE_ARTICLES[audience],
                "model": embedder.model_name,
                "use_questions": options.questions,
                "use_titles": options.titles,
            },
        )
        (similarity,) = cursor.fetchone()
    if similarity is None:
        return 0.0
    reading = replace(best, dense_score=float(similarity), question_score=0.0)
    return answer_confidence(reading, options=options) - options.topic_margin


@dataclass
class _Row:
    chunk: RetrievedChunk
    kind: str
    field_score: float
    matched_words: set[str]
    score: float = 0.0


# How much an article in the customer's language gains in the ranking: enough to beat an article
# in another language that scores about as well (a translation of the same article), far too
# little to lift an article that does not answer above one that does. The confidence that decides
# whether to answer at all is unchanged.
LANGUAGE_PREFERENCE = 0.1


def _rank(
    rows: list[tuple],
    *,
    audience: str,
    mode: str,
    options: RetrievalOptions,
    weight: float,
    k: int,
    max_per_article: int,
    language: str | None = None,
    products: ProductTerms = (),
    question: str = "",
) -> list[RetrievedChunk]:
    candidates: list[_Row] = []
    words: set[str] = set()
    # Links are built for the chosen chunks only: reverse() is most of this function's CPU and
    # the candidates are 40 or more.
    links: dict[int, tuple[str, str, int, str, str]] = {}
    for (
        chunk_id,
        article_id,
        title,
        slug,
        source_url,
        chunk_audience,
        heading_path,
        anchor,
        text,
        kind,
        dense,
        lexical,
        fields,
        matched,
        matched_synonym,
        words_row,
        used_words,
        article_language,
    ) in rows:
        links[chunk_id] = (source_url, chunk_audience, article_id, slug, anchor)
        chunk = RetrievedChunk(
            chunk_id,
            article_id,
            title,
            slug,
            "",
            heading_path,
            text,
            0.0,
            float(dense),
            float(lexical),
            article_language=article_language,
        )
        # a glossary synonym in the chunk covers the question's word it stands for
        candidates.append(
            _Row(chunk, kind, float(fields), set(matched) | (set(used_words) if matched_synonym else set()))
        )
        words = set(words_row)
    _score(candidates, mode=mode, options=options, weight=weight)

    by_article: dict[int, list[_Row]] = {}
    for row in candidates:
        by_article.setdefault(row.chunk.article_id, []).append(row)
    covered_by: dict[int, set[str]] = {
        article_id: set().union(*(r.matched_words for r in article_rows)) & words
        for article_id, article_rows in by_article.items()
        if any(r.kind == Chunk.Kind.SECTION for r in article_rows)
    }
    # how many candidate articles hold each word: a word the best article lacks but another holds
    # is "explained elsewhere" (answer_confidence)
    holders = Counter(word for covered in covered_by.values() for word in covered)
    # the question's words that belong to a product word it holds ("sleeping bags": sleep, bag)
    product_stems = product_stems_in(words, products) if products else set()
    headings = article_heading_stems() if product_stems else {}
    shares: dict[int, ArticleWords] = {}
    soft_matches = soft_matcher(
        question,
        article_texts=lambda article_id: [r.chunk.text for r in by_article[article_id]],
        options=options,
    )
    ranked: list[RetrievedChunk] = []
    for article_id, article_rows in by_article.items():
        if article_id not in covered_by:
            continue  # a question whose article has no retrievable section: nothing to cite
        sections = sorted(
            (r for r in article_rows if r.kind == Chunk.Kind.SECTION), key=lambda r: r.score, reverse=True
        )
        # an alternative question counts question_weight, the title row title_weight
        questions = [
            (r, options.question_weight if r.kind == Chunk.Kind.QUESTION else options.title_weight)
            for r in article_rows
            if r.kind in (Chunk.Kind.QUESTION, Chunk.Kind.TITLE)
        ]
        best_question, best_weight = max(questions, key=lambda rw: rw[0].score * rw[1], default=(None, 1.0))
        article_score = max(sections[0].score, best_question.score * best_weight if best_question else float("-inf"))
        if options.rerank:
            article_score += options.rerank_weight * max(r.field_score for r in sections)
        if language and sections[0].chunk.article_language == language:
            article_score += LANGUAGE_PREFERENCE
        covered = covered_by[article_id]
        # a product word the article lacks does not count against the confidence, unless the
        # article is about a product itself (its title or a heading names one)
        free: set[str] = set()
        if product_stems and not names_a_product(headings.get(article_id, ()), products):
            free = (words - covered) & product_stems
        missing = words - covered - free
        # what the confidence reads: the share of at most `coverage_words` of the question's words
        counted = min(len(words) - len(free), options.coverage_words or len(words) - len(free))
        shares[article_id] = ArticleWords(
            covered=len(covered),
            missing=frozenset(missing),
            explained=frozenset(word for word in missing if holders[word]),
            counted=counted,
        )
        soft = soft_matches(article_id, shares[article_id].missing) if options.soft_coverage_rank else {}
        coverage, elsewhere = shares[article_id].confidence_shares(soft)
        held = len(covered) + sum(m.credit for m in soft.values())
        if options.capped_rank:  # the ranking's share counts every word, product words too
            capped = min(len(words), options.coverage_words or len(words))
            ranked_share = min(1.0, held / capped) if capped else 0.0
        else:
            ranked_share = held / len(words) if words else 0.0
        article_score += options.coverage_rank * ranked_share
        first = replace(
            sections[0].chunk,
            score=article_score,
            coverage=coverage,
            coverage_elsewhere=elsewhere,
            missing_words=tuple(sorted(words - covered)),
            soft_matches=tuple(soft.values()),
        )
        if best_question is not None:
            first = replace(
                first,
                matched_question=best_question.chunk.text,
                # a title row's similarity is discounted in the confidence as in the ranking
                question_score=best_question.chunk.dense_score
                * (options.title_weight if best_question.kind == Chunk.Kind.TITLE else 1.0),
            )
        ranked.append(first)
        # further sections rank below their article's best one, by their own score
        ranked += [replace(r.chunk, score=min(r.score, article_score)) for r in sections[1:]]
    ranked.sort(key=lambda c: c.score, reverse=True)

    chosen: list[RetrievedChunk] = []
    per_article: dict[int, int] = {}
    for chunk in ranked:
        if per_article.get(chunk.article_id, 0) < max_per_article:
            chosen.append(chunk)
            per_article[chunk.article_id] = per_article.get(chunk.article_id, 0) + 1
        if len(chosen) == k:
            break
    if options.soft_coverage and not options.soft_coverage_rank:
        # Only the returned articles' confidence reads it, so only their words are compared (the
        # ranking did not need them): each article's leading chunk carries its coverage.
        leading = {chunk.article_id: n for n, chunk in reversed(list(enumerate(chosen)))}
        for article_id, n in leading.items():
            soft = soft_matches(article_id, shares[article_id].missing)
            if soft:
                coverage, elsewhere = shares[article_id].confidence_shares(soft)
                chosen[n] = replace(
                    chosen[n], coverage=coverage, coverage_elsewhere=elsewhere, soft_matches=tuple(soft.values())
                )
    return [replace(chunk, url=_link(*links[chunk.chunk_id])) for chunk in chosen]


def _link(source_url: str, audience: str, article_id: int, slug: str, anchor: str) -> str:
    url = source_url or _default_url(audience=audience, article_id=article_id, slug=slug)
    return f"{url}#{anchor}" if anchor and url else url


def _score(rows: list[_Row], *, mode: str, options: RetrievalOptions, weight: float) -> None:
    if mode == "dense":
        for row in rows:
            row.score = row.chunk.dense_score
    elif mode == "text":
        for row in rows:
            row.score = row.chunk.text_score
    elif options.fusion == "weighted":
        for row in rows:
            row.score = row.chunk.dense_score + weight * row.chunk.text_score
    else:
        dense_rank = {
            id(r): n for n, r in enumerate(sorted(rows, key=lambda r: r.chunk.dense_score, reverse=True), start=1)
        }
        matched = sorted((r for r in rows if r.chunk.text_score > 0), key=lambda r: r.chunk.text_score, reverse=True)
        text_rank = {id(r): n for n, r in enumerate(matched, start=1)}
        for row in rows:
            row.score = 1 / (options.rrf_k + dense_rank[id(row)])
            if id(row) in text_rank:
                row.score += 1 / (options.rrf_k + text_rank[id(row)])


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
