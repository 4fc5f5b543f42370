"""Articles keep a revision on every save; restoring adds a revision instead of rewriting history."""

from __future__ import annotations

import pytest

from knowledge.models import Article
from knowledge.services import article_restore_revision, article_save

pytestmark = pytest.mark.django_db


def test_every_save_is_a_revision_and_restore_brings_content_back(alice):
    article = article_save(article=Article(title="Returns", slug="returns", body="30 days."), author=alice)
    article.body = "14 days."
    article_save(article=article, author=alice)
    assert list(article.revisions.values_list("number", "body")) == [(2, "14 days."), (1, "30 days.")]

    article_restore_revision(revision=article.revisions.get(number=1), author=alice)
    article.refresh_from_db()
    assert article.body == "30 days." and article.revisions.count() == 3


def test_the_admin_shows_an_article_with_its_revision_diff(admin_client):
    article = article_save(article=Article(title="Returns", slug="returns", body="30 days."))
    article.body = "14 days."
    article_save(article=article)
    page = admin_client.get(f"/admin/knowledge/article/{article.pk}/change/").content.decode()
    assert "-30 days." in page and "+14 days." in page
