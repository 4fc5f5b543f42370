"""One way the knowledge tests search the demo articles: top article per slot, a given answer
threshold, the default options with some levers changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from knowledge.retrieval_options import DEFAULT_OPTIONS
from knowledge.selectors import Retrieval, knowledge_search


def demo_retrieval(question: str, *, threshold: float, **options: Any) -> Retrieval:
    return knowledge_search(
        question=question,
        audience="anonymous",
        k=3,
        max_per_article=1,
        threshold=threshold,
        options=replace(DEFAULT_OPTIONS, **options),
    )
