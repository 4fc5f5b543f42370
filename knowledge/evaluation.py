"""Retrieval evaluation: recall@k and MRR of article retrieval per configuration (retrieval mode
and levers) with its cost in ms per question, and abstention: answer rate on answerable questions
and false-answer rate on unanswerable ones, and the threshold that trades one for the other."""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from knowledge.kb_cache import glossary_entries
from knowledge.question_pieces import question_pieces
from knowledge.retrieval_options import DEFAULT_OPTIONS, RetrievalOptions
from knowledge.selectors import (
    Audience,
    Mode,
    answer_confidence,
    embedded_text,
    knowledge_search,
    product_reading_text,
    question_for_search,
)
from knowledge.soft_coverage import word_vectors
from supportbot.llm.embeddings import get_embedder

# long, paraphrase (no content word shared with the article) and two_part: knowledge/evals/faqproxy_questions.json
KINDS = (
    "plain",
    "typo",
    "short",
    "action_word",
    "product_topic",
    "long",
    "paraphrase",
    "two_part",
    "unanswerable",
    "hard_negative",
)


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    expected: frozenset[str]  # article slugs, any of which is a right answer; empty: no article answers it
    kind: str = "plain"
    split: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.expected)


def parse_questions(raw: object) -> list[EvalQuestion]:
    """Two formats: {question, expected: [slug, ...]} (every question answerable), or {question,
    slug: "slug" | null, also?: [slug, ...], kind?, split?: "dev" | "test" | "test<N>"} where null marks a
    question no article answers."""
    if not isinstance(raw, list):
        raise ValueError("the eval file must hold a JSON list of {question, expected} or {question, slug}")
    questions = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
            raise ValueError(f"item {n}: needs a 'question' string")
        if "slug" in item:
            slug, also = item["slug"], item.get("also", [])
            if not (slug is None or isinstance(slug, str)) or not isinstance(also, list) or (slug is None and also):
                raise ValueError(f"item {n}: 'slug' must be a slug or null, 'also' a list of slugs (only with a slug)")
            expected = frozenset([slug, *also]) if slug else frozenset()
        else:
            listed = item.get("expected")
            if not listed or not isinstance(listed, (str, list)):
                raise ValueError(
                    f"item {n}: needs a non-empty 'expected' list of slugs, or a 'slug' (null if unanswerable)"
                )
            expected = frozenset([listed] if isinstance(listed, str) else listed)
        kind = item.get("kind", "plain" if expected else "unanswerable")
        if kind not in KINDS:
            raise ValueError(f"item {n}: kind must be one of {', '.join(KINDS)}")
        split = item.get("split", "")
        # held-back batches written later are named test2, test3, ...
        if split not in ("", "dev") and not re.fullmatch(r"test\d*", split):
            raise ValueError(f"item {n}: split must be dev, test or test<N>")
        questions.append(EvalQuestion(item["question"], expected, kind, split))
    return questions


@dataclass(frozen=True)
class Outcome:
    question: EvalQuestion
    first_right: int | None  # rank of the first right article, 1-based
    confidence: float
    ms: float  # the search, without embedding the question (embedding_ms measures that once)


class VectorCache:
    """Question vectors shared by every configuration of one run: embedding dominates the cost
    and is the same for all of them but the glossary's (which embeds a longer text)."""

    def __init__(self) -> None:
        self._vectors: dict[str, list[float]] = {}

    def get(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, get_embedder().embed(missing)))
        return [self._vectors[t] for t in texts]


def embedding_ms(questions: list[EvalQuestion], *, sample: int = 40) -> float:
    """Mean ms to embed one question on its own, as the bot does per message."""
    embedder = get_embedder()
    embedder.embed(["warm up"])
    chosen = questions[:sample]
    started = time.perf_counter()
    for question in chosen:
        embedder.embed([question.question])
    return (time.perf_counter() - started) * 1000 / max(1, len(chosen))


def run(
    questions: list[EvalQuestion],
    *,
    k: int,
    mode: Mode,
    options: RetrievalOptions,
    audience: Audience = "agent",
    text_weight: float | None = None,
    vectors: VectorCache | None = None,
    progress: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Each question through knowledge_search as the bot calls it, with its vector precomputed."""
    glossary = glossary_entries()
    searched = [question_for_search(question=q.question, options=options) for q in questions]
    texts = [embedded_text(question=q, entries=glossary, options=options) for q in searched]
    cache = vectors or VectorCache()
    query_vectors = cache.get(texts) if mode != "text" else [None] * len(questions)
    pieces = [question_pieces(q) if options.pieces and mode != "text" else [] for q in searched]
    piece_vectors = cache.get([p for some in pieces for p in some])
    readings = [
        product_reading_text(question=q, entries=glossary, options=options) if mode != "text" else None
        for q in searched
    ]
    reading_vectors = iter(cache.get([r for r in readings if r is not None]))
    if options.soft_coverage:
        word_vectors()  # the vocabulary's word vectors, once per process: not a question's cost
    outcomes = []
    for question, vector, some, reading in zip(questions, query_vectors, pieces, readings):
        mine, piece_vectors = piece_vectors[: len(some)], piece_vectors[len(some) :]
        reading_vector = next(reading_vectors) if reading is not None else None
        started = time.perf_counter()
        retrieval = knowledge_search(
            question=question.question,
            audience=audience,
            k=k,
            mode=mode,
            max_per_article=1,
            text_weight=text_weight,
            options=options,
            glossary=glossary,
            threshold=1.0,
            query_vector=vector,
            piece_vectors=mine,
            reading_vector=reading_vector,
        )
        ms = (time.perf_counter() - started) * 1000
        first = next((i for i, slug in enumerate(retrieval.article_slugs, start=1) if slug in question.expected), None)
        outcomes.append(Outcome(question, first, retrieval.confidence, ms))
        if progress:
            progress()
    return outcomes


def recall(outcomes: list[Outcome], *, ks: Iterable[int]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.question.answerable]
    total = max(1, len(answerable))
    metrics = {
        f"recall@{k}": sum(o.first_right is not None and o.first_right <= k for o in answerable) / total
        for k in sorted(set(ks))
    }
    metrics["mrr"] = sum(1 / o.first_right for o in answerable if o.first_right) / total
    times = [o.ms for o in outcomes]
    metrics["ms/q"] = statistics.mean(times) if times else 0.0
    metrics["p95 ms"] = sorted(times)[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else 0.0
    return metrics


def evaluate(
    questions: list[EvalQuestion],
    *,
    ks: Iterable[int],
    mode: Mode,
    audience: Audience = "agent",
    text_weight: float | None = None,
    options: RetrievalOptions | None = None,
    progress: Callable[[], None] | None = None,
) -> dict[str, float]:
    ks = sorted(set(ks))
    outcomes = run(
        questions,
        k=max(ks),
        mode=mode,
        options=options or RetrievalOptions(),
        audience=audience,
        text_weight=text_weight,
        progress=progress,
    )
    return recall(outcomes, ks=ks)


@dataclass(frozen=True)
class AbstentionPoint:
    threshold: float
    answer_rate: float  # answerable questions the bot answers (confidence >= threshold)
    correct_answer_rate: float  # ... and whose first article is a right one
    false_answer_rate: float  # unanswerable questions the bot answers anyway


def abstention_at(outcomes: list[Outcome], threshold: float) -> AbstentionPoint:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    answered = [o for o in answerable if o.confidence >= threshold]
    return AbstentionPoint(
        threshold,
        len(answered) / max(1, len(answerable)),
        sum(o.first_right == 1 for o in answered) / max(1, len(answerable)),
        sum(o.confidence >= threshold for o in unanswerable) / max(1, len(unanswerable)),
    )


def abstention_curve(outcomes: list[Outcome], *, step: float = 0.02) -> list[AbstentionPoint]:
    low = int(min((o.confidence for o in outcomes), default=0) / step) * step
    points, threshold = [], max(0.0, low)
    while threshold <= 1.0:
        points.append(abstention_at(outcomes, round(threshold, 4)))
        threshold += step
    return points


def _at_most(confidence: float, places: int = 4) -> float:
    """The confidence cut to `places` decimals, never above it: a threshold rounded up past a
    question's confidence would refuse the very question it was taken from."""
    if not math.isfinite(confidence):
        return confidence  # text-only retrieval can score NaN: left as it was
    cut = round(math.floor(confidence * 10**places) / 10**places, places)
    while cut > confidence:
        cut = round(cut - 10**-places, places)
    return cut


def choose_threshold(outcomes: list[Outcome], *, max_false_answer_rate: float) -> AbstentionPoint:
    """The lowest threshold (most answers) whose false-answer rate is within the target."""
    candidates = sorted({_at_most(o.confidence) for o in outcomes} | {1.0})
    for threshold in candidates:
        point = abstention_at(outcomes, threshold)
        if point.false_answer_rate <= max_false_answer_rate:
            return point
    return abstention_at(outcomes, 1.0)


def tuning_split(questions: list[EvalQuestion]) -> str | None:
    """The split a threshold is chosen on: "dev" when the file has one, else None, every question."""
    return "dev" if any(q.split == "dev" for q in questions) else None


def in_split(outcomes: list[Outcome], split: str | None) -> list[Outcome]:
    return [o for o in outcomes if split is None or o.question.split == split]


def leave_one_out(
    questions: list[EvalQuestion], *, audience: Audience = "agent", options: RetrievalOptions | None = None
) -> list[Outcome]:
    """For a question file without unanswerable questions: each answerable question as the bot sees
    it (the confidence of its best article, right or not) and, as an unanswerable copy of it, the
    same question with its right article(s) left out of the candidates: the confidence of the best
    other article is what the bot would see if the knowledge base lacked the answer. A question
    whose candidates are all right articles has no copy. `abstention_curve` and `choose_threshold`
    read the result as they read a file that mixes both kinds."""
    options = options or DEFAULT_OPTIONS
    glossary = glossary_entries()
    outcomes = []
    for question in questions:
        if not question.answerable:
            continue
        started = time.perf_counter()
        chunks = knowledge_search(
            question=question.question,
            audience=audience,
            k=10,
            max_per_article=1,
            options=options,
            glossary=glossary,
            threshold=1.0,
        ).chunks
        ms = (time.perf_counter() - started) * 1000
        confidence = [answer_confidence(c, options=options) for c in chunks]
        first = next((i for i, c in enumerate(chunks, start=1) if c.article_slug in question.expected), None)
        outcomes.append(Outcome(question, first, confidence[0] if chunks else 0.0, ms))
        wrong = next((s for c, s in zip(chunks, confidence) if c.article_slug not in question.expected), None)
        if wrong is not None:
            left_out = replace(question, expected=frozenset(), kind="unanswerable")
            outcomes.append(Outcome(left_out, None, wrong, ms))
    return outcomes


@dataclass(frozen=True)
class Calibration:
    threshold: float
    answerable_kept: float  # share of answerable questions, right article first, that stay above the threshold
    unanswerable_refused: float  # share of unanswerable (leave-one-out) questions that fall below it
    answerable_scores: list[float]
    unanswerable_scores: list[float]


def balanced_threshold(outcomes: list[Outcome]) -> Calibration:
    """The threshold that maximizes the mean of the share of answerable questions kept (those whose
    first article is a right one) and the share of unanswerable ones refused: no false-answer
    target, shown beside `choose_threshold`'s choice."""
    answerable = [o.confidence for o in outcomes if o.question.answerable and o.first_right == 1]
    unanswerable = [o.confidence for o in outcomes if not o.question.answerable]
    best = (0.0, 0.0, 0.0, 0.0)
    for candidate in sorted(set(answerable + unanswerable)):
        kept = sum(s >= candidate for s in answerable) / max(1, len(answerable))
        refused = sum(s < candidate for s in unanswerable) / max(1, len(unanswerable))
        if (kept + refused) / 2 > best[0]:
            best = ((kept + refused) / 2, candidate, kept, refused)
    return Calibration(best[1], best[2], best[3], answerable, unanswerable)
