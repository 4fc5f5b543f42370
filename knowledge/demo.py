"""The demo shop's knowledge base for `make run` (knowledge/demo/articles.json, original text)."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge.models import Article
from knowledge.services import article_save

DEMO_ARTICLES = Path(__file__).resolve().parent / "demo" / "articles.json"


def demo_articles_ensure() -> int:
    """Create the demo articles that do not exist yet (published, indexed by the worker); return how many."""
    existing = set(Article.objects.values_list("slug", flat=True))
    created = 0
    for item in json.loads(DEMO_ARTICLES.read_text(encoding="utf-8")):
        if item["slug"] in existing:
            continue  # an editor may have changed it: never overwrite
        article_save(article=Article(status=Article.Status.PUBLISHED, **item))
        created += 1
    return created
