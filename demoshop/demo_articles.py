"""The demo shop's knowledge base for `make run` (demoshop/demo_articles/articles.json, original text)."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from knowledge.models import Article, GlossaryEntry
from knowledge.services import article_questions_set, article_save, glossary_import

DEMO_ARTICLES = Path(__file__).resolve().parent / "demo_articles" / "articles.json"
DEMO_GLOSSARY = Path(__file__).resolve().parent / "demo_articles" / "glossary.json"


def demo_articles_ensure() -> int:
    """Create the demo articles that do not exist yet, with their alternative questions
    (published, indexed by the worker), and the demo glossary if there is none; return how
    many articles were created."""
    existing = set(Article.objects.values_list("slug", flat=True))
    created = 0
    for item in json.loads(DEMO_ARTICLES.read_text(encoding="utf-8")):
        if item["slug"] in existing:
            continue  # an editor may have changed it: never overwrite
        questions = item.pop("questions", [])
        with transaction.atomic():  # indexing runs on commit, after the questions exist
            article = article_save(article=Article(status=Article.Status.PUBLISHED, **item))
            article_questions_set(article=article, questions=questions)
        created += 1
    if not GlossaryEntry.objects.exists():  # an editor's glossary is theirs: never added to
        glossary_import(groups=json.loads(DEMO_GLOSSARY.read_text(encoding="utf-8")))
    return created
