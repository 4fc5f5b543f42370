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
