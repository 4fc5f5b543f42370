import json
from pathlib import Path

import pytest

from knowledge.indexing import article_index
from knowledge.kb_cache import knowledge_settings_changed
from knowledge.models import Article
from knowledge.services import article_questions_set, article_save


@pytest.fixture(autouse=True)
def _fresh_knowledge_settings_cache():
    """Rolled-back test transactions send no signals: start each test without the glossary and
    threshold an earlier test left in retrieval's per-process cache."""
    knowledge_settings_changed()
    yield
    knowledge_settings_changed()


# The demo shop's own articles (read, not copied): the topic-ranking defect showed on them.
DEMO_ARTICLES = Path(__file__).resolve().parents[2] / "demoshop" / "demo_articles" / "articles.json"


def demo_articles_index(slugs: set[str], *, without_questions_holding: str = "") -> None:
    """Save and index these demo articles with their alternative questions (those holding
    `without_questions_holding` left out)."""
    for item in json.loads(DEMO_ARTICLES.read_text(encoding="utf-8")):
        if item["slug"] in slugs:
            article = article_save(
                article=Article(slug=item["slug"], title=item["title"], body=item["body"], status="published")
            )
            questions = [
                q
                for q in item["questions"]
                if not (without_questions_holding and without_questions_holding in q.lower())
            ]
            article_questions_set(article=article, questions=questions)
            assert article_index(article_id=article.pk) == "indexed"


@pytest.fixture
def outdoor_shop(db):
    """Three demo articles that share words (warranty, returns, tent care), indexed."""
    demo_articles_index({"warranty", "return-policy", "tent-care"})
