"""The demo shop's knowledge base for `make run` (demoshop/demo_articles/articles.json, original text),
its glossary and the words of the products it sells (products.json: the catalogue of demoshop/seed.py and
the gear the articles name)."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from knowledge.models import Article, GlossaryEntry, ProductWord
from knowledge.services import article_questions_set, article_save, glossary_import, product_words_import

DEMO_ARTICLES = Path(__file__).resolve().parent / "demo_articles" / "articles.json"
DEMO_GLOSSARY = Path(__file__).resolve().parent / "demo_articles" / "glossary.json"
DEMO_PRODUCTS = Path(__file__).resolve().parent / "demo_articles" / "products.json"


def demo_articles_ensure() -> int:
    """Create the demo articles that do not exist yet, with their alternative questions
    (published, indexed by the worker), and the demo glossary and product words if there are none;
    return how many articles were created."""
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
    if not ProductWord.objects.exists():  # likewise the editor's product words
        product_words_import(terms=json.loads(DEMO_PRODUCTS.read_text(encoding="utf-8")))
    return created
