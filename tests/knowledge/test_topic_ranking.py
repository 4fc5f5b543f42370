"""A question about a policy that names a product ("return policy for a tent?") ranks the policy's
article first, not the article that merely mentions the product; a question whose topic IS the
product ("how do I clean my tent?") still finds the product's article (docs/performance.md, "the
topic of a question outranks the product it names")."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.indexing import article_index
from knowledge.models import Article
from knowledge.selectors import DEFAULT_OPTIONS, knowledge_search
from knowledge.services import article_questions_set, article_save

pytestmark = pytest.mark.django_db

# The demo shop's own articles (read, not copied): the defect showed on them.
DEMO_ARTICLES = Path(__file__).resolve().parents[2] / "demoshop" / "demo_articles" / "articles.json"


@pytest.fixture
def outdoor_shop(db):
    wanted = {"warranty", "return-policy", "tent-care"}
    for item in json.loads(DEMO_ARTICLES.read_text(encoding="utf-8")):
        if item["slug"] in wanted:
            article = article_save(
                article=Article(slug=item["slug"], title=item["title"], body=item["body"], status="published")
            )
            article_questions_set(article=article, questions=item["questions"])
            assert article_index(article_id=article.pk) == "indexed"


def _first(question: str, **options) -> str:
    found = knowledge_search(
        question=question, audience="anonymous", k=3, max_per_article=1, options=replace(DEFAULT_OPTIONS, **options)
    )
    return found.article_slugs[0]


def test_a_policy_question_naming_a_product_ranks_the_policy_article_first(outdoor_shop):
    assert _first("return policy for a tent?") == "return-policy"
    # without the article's word coverage in its ranking score, the product word wins: the defect
    assert _first("return policy for a tent?", coverage_rank=0.0) == "warranty"


def test_a_question_whose_topic_is_the_product_still_finds_the_product_article(outdoor_shop):
    assert _first("How do I clean my tent?") == "tent-care"
    assert _first("The zipper on my tent broke") == "warranty"
