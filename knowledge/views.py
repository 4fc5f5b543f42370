"""Public help-centre pages: what customers open from a citation chip. Only published public
articles are shown; verified-customer and internal articles are not public pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from knowledge.models import Article
from knowledge.rendering import article_html


def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article, slug=slug, status=Article.Status.PUBLISHED, audience=Article.Audience.PUBLIC)
    return render(request, "help/article.html", {"article": article, "body_html": article_html(article.body)})
