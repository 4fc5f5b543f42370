"""The content-gap report in the admin (Conversations › Content gap report): staff with the
"view content gap" permission see it; its actions need the knowledge permissions they use, and
marking a gap handled the "change content gap" permission."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from conversations.gaps.clustering import Gap, gaps_group
from conversations.gaps.selectors import REPORT_WINDOWS, gap_questions
from conversations.gaps.services import GapActionError, gap_close_with_question, gap_replies_handle
from conversations.models import ContentGap, GapReplyHandled
from knowledge.models import Article

DRAFT_WORDINGS = 10


def article_draft_url(gap: Gap) -> str:
    """The knowledge admin's add form, prefilled: a draft titled with the question, its body
    listing how customers asked (a draft never reaches retrieval until someone publishes it)."""
    asked = "\n".join(f"- {wording}" for wording in gap.wordings[:DRAFT_WORDINGS])
    body = f"# {gap.text}\n\nWrite the answer here.\n\n## How customers asked\n\n{asked}\n"
    query = urlencode({"title": gap.text[:255], "body": body, "status": Article.Status.DRAFT})
    return f"{reverse('admin:knowledge_article_add')}?{query}"


@admin.register(ContentGap)
class ContentGapAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Only the explicit permission: the report shows customer questions from every conversation.
        return request.user.is_active and request.user.has_perm("conversations.view_contentgap")

    def get_urls(self):
        return [
            path(
                "add-question/",
                self.admin_site.admin_view(self.add_question_view),
                name="conversations_contentgap_add_question",
            ),
            path(
                "mark-handled/",
                self.admin_site.admin_view(self.mark_handled_view),
                name="conversations_contentgap_mark_handled",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        days = days if days in REPORT_WINDOWS else 30
        gaps = gaps_group(questions=gap_questions(days=days))
        can_add_article = request.user.has_perm("knowledge.add_article")
        context = {
            **self.admin_site.each_context(request),
            "title": "Content gap report",
            "opts": self.model._meta,
            "days": days,
            "windows": REPORT_WINDOWS,
            "rows": [{"gap": gap, "draft_url": article_draft_url(gap) if can_add_article else ""} for gap in gaps],
            "can_add_question": request.user.has_perm("knowledge.add_articlequestion"),
            "can_mark_handled": request.user.has_perm("conversations.change_contentgap"),
            "articles": Article.objects.exclude(status=Article.Status.ARCHIVED).order_by("title").only("pk", "title"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/conversations/contentgap/report.html", context)

    @staticmethod
    @require_POST
    def add_question_view(request: HttpRequest) -> HttpResponse:
        if not request.user.has_perms(["conversations.view_contentgap", "knowledge.add_articlequestion"]):
            raise PermissionDenied
        back = _report_url(request)
        article_id = request.POST.get("article", "")
        if not article_id.isdigit():
            messages.error(request, "Choose the article that answers this question.")
            return HttpResponseRedirect(back)
        article = get_object_or_404(Article, pk=int(article_id))
        try:
            created, closed = gap_close_with_question(
                article=article, text=request.POST.get("text", ""), reply_ids=_reply_ids(request), user=request.user
            )
        except GapActionError as error:
            messages.error(request, f"Not added: {error}.")
            return HttpResponseRedirect(back)
        if created:
            messages.success(
                request, f"Added as a question “{article.title}” answers; the article is being re-indexed."
            )
        else:
            messages.info(request, f"“{article.title}” already answers this question.")
        if not closed:
            messages.warning(
                request, f"“{article.title}” is not published, so the bot cannot answer yet: the gap stays listed."
            )
        return HttpResponseRedirect(back)

    @staticmethod
    @require_POST
    def mark_handled_view(request: HttpRequest) -> HttpResponse:
        if not request.user.has_perms(["conversations.view_contentgap", "conversations.change_contentgap"]):
            raise PermissionDenied
        handled = gap_replies_handle(reply_ids=_reply_ids(request), how=GapReplyHandled.How.MARKED, user=request.user)
        if handled:
            messages.success(request, "Marked as handled: it leaves the report until customers ask it again.")
        else:
            messages.info(request, "Nothing to mark: that gap is no longer on the report.")
        return HttpResponseRedirect(_report_url(request))


def _report_url(request: HttpRequest) -> str:
    back = reverse("admin:conversations_contentgap_changelist")
    if request.POST.get("days", "").isdigit():
        back += f"?days={request.POST['days']}"
    return back


def _reply_ids(request: HttpRequest) -> list[int]:
    """The gap's bot replies, posted as "12,15,19"; anything else in the list is ignored."""
    return [int(part) for part in request.POST.get("replies", "").split(",") if part.strip().isdigit()]
