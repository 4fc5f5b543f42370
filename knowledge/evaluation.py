"""Retrieval evaluation: recall@k and MRR of article retrieval, per retrieval mode."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from knowledge.selectors import knowledge_search


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    expected: frozenset[str]  # article slugs, any of which is a right answer


def parse_questions(raw: object) -> list[EvalQuestion]:
    if not isinstance(raw, list):
        raise ValueError("the eval file must hold a JSON list of {question, expected}")
    questions = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item.get("expected"):
            raise ValueError(f"item {n}: needs a 'question' string and a non-empty 'expected' list of slugs")
        expected = item["expected"]
        questions.append(EvalQuestion(item["question"], frozenset([expected] if isinstance(expected, str) else expected)))
    return questions


def evaluate(
    questions: list[EvalQuestion],
    *,
    ks: Iterable[int],
    mode: str,
    audience: str = "agent",
    text_weight: float | None = None,
    progress: Callable[[], None] | None = None,
) -> dict[str, float]:
    ks = sorted(set(ks))
    hits = {k: 0 for k in ks}
    reciprocal_ranks = 0.0
    for question in questions:
        ranked = knowledge_search(
            question=question.question, audience=audience, k=max(ks), mode=mode, max_per_article=1,
            text_weight=text_weight,
        ).article_slugs
        first = next((i for i, slug in enumerate(ranked, start=1) if slug in question.expected), None)
        if first is not None:
            reciprocal_ranks += 1 / first
            for k in ks:
                hits[k] += first <= k
        if progress:
            progress()
    total = max(1, len(questions))
    return {**{f"recall@{k}": hits[k] / total for k in ks}, "mrr": reciprocal_ranks / total}


@dataclass(frozen=True)
class Calibration:
    threshold: float
    answerable_kept: float  # share of answerable questions that stay above the threshold
    unanswerable_refused: float  # share of leave-one-out questions that fall below it
    answerable_scores: list[float]
    unanswerable_scores: list[float]


def calibrate_threshold(questions: list[EvalQuestion], *, audience: str = "agent") -> Calibration:
    """Choose the "no good answer" threshold on dense similarity by leave-one-out.

    For each question, the similarity of its right article (when ranked first) is what the bot
    sees when the answer exists; the best similarity among the *other* articles is what it would
    see if that article were missing. The threshold maximizes the mean of the share of answerable
    questions kept and the share of unanswerable ones refused.
    """
    answerable: list[float] = []
    unanswerable: list[float] = []
    for question in questions:
        chunks = knowledge_search(question=question.question, audience=audience, k=10, mode="dense", max_per_article=1).chunks
        if chunks and chunks[0].article_slug in question.expected:
            answerable.append(chunks[0].dense_score)
        wrong = next((c.dense_score for c in chunks if c.article_slug not in question.expected), None)
        if wrong is not None:
            unanswerable.append(wrong)
    best = (0.0, 0.0, 0.0, 0.0)
    for candidate in sorted(set(answerable + unanswerable)):
        kept = sum(s >= candidate for s in answerable) / max(1, len(answerable))
        refused = sum(s < candidate for s in unanswerable) / max(1, len(unanswerable))
        if (kept + refused) / 2 > best[0]:
            best = ((kept + refused) / 2, candidate, kept, refused)
    return Calibration(best[1], best[2], best[3], answerable, unanswerable)
