"""`make run`'s demo data is complete and idempotent."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from conversations.models import WidgetSite
from knowledge.models import Article

pytestmark = pytest.mark.django_db


def test_demo_setup_creates_the_site_accounts_and_articles_once(settings):
    call_command("demo_setup")
    Article.objects.filter(slug="warranty").update(title="Warranty (edited)")
    call_command("demo_setup")

    assert WidgetSite.objects.get(key=settings.DEMO_SITE_KEY).allowed_origins == [
        f"http://127.0.0.1:{settings.PORT}",
        f"http://localhost:{settings.PORT}",
    ]
    audiences = list(Article.objects.values_list("audience", flat=True))
    assert 20 <= len(audiences) <= 40
    assert audiences.count("internal") >= 2 and audiences.count("verified_customers") >= 1
    assert Article.objects.get(slug="warranty").title == "Warranty (edited)"  # an editor's change survives
    assert set(Article.objects.values_list("status", flat=True)) == {"published"}
