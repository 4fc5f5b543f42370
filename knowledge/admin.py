import difflib

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from knowledge.kb_cache import answer_threshold
from knowledge.models import (
    Article,
    ArticleQuestion,
    ArticleRevision,
    GlossaryEntry,
    KnowledgeBaseSettings,
    ProductWord,
)
from knowledge.passages import Section, answer_passage
from knowledge.selectors import AUDIENCE_ARTICLES, chunks_from_other_models, knowledge_search
from knowledge.services import article_restore_revision, article_save, glossary_terms_clean, product_word_clean


class QuestionInline(admin.TabularInline):
    """Saved with the article, whose save re-indexes it (after commit, so with these questions)."""

    model = ArticleQuestion
    extra = 1
    fields = ("text",)
    verbose_name = "question this article answers"
    verbose_name_plural = "Questions this article answers (other ways customers ask; each one finds this article)"


class RevisionInline(admin.TabularInline):
    model = ArticleRevision
    extra = 0
    can_delete = False
    fields = ("number", "title", "status", "audience", "author", "created_at", "changes")
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Changes from the previous revision")
    def changes(self, revision: ArticleRevision) -> str:
        previous = (
            ArticleRevision.objects.filter(article=revision.article, number__lt=revision.number)
            .order_by("-number")
            .first()
        )
        before = previous.body.splitlines() if previous else []
        lines = [
            line
            for line in difflib.unified_diff(before, revision.body.splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))
        ]
        if not lines:
            return "no change to the body"
        return format_html(
            '<pre style="white-space:pre-wrap;max-width:60em">{}</pre>',
            format_html_join("\n", "{}", ((line,) for line in lines[:40])),
        )


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    change_list_template = "admin/knowledge/article/change_list.html"

    list_display = ("title", "status", "audience", "language", "category", "index_state", "updated_at")
    list_filter = ("status", "audience", "language", "index_state", "category")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("index_state", "index_error", "indexed_at", "created_at", "updated_at")
    inlines = [QuestionInline, RevisionInline]
    actions = ["restore_previous_revision"]

    def get_urls(self):
        return [
            path("test-question/", self.admin_site.admin_view(self.test_question_view), name="knowledge_test_question"),
            *super().get_urls(),
        ]

    def test_question_view(self, request):
        """What would the bot retrieve for this question, for this audience, and cite?"""
        question = request.GET.get("question", "").strip()
        audience = request.GET.get("audience", "anonymous")
        if audience not in AUDIENCE_ARTICLES:
            audience = "anonymous"
        result = knowledge_search(question=question, audience=audience, k=8) if question else None
        passage = ""
        if result is not None and result.confident and result.chunks:
            best = result.chunks[0]
            passage = answer_passage(
                article_id=best.article_id,
                audience=audience,
                best=Section.of_chunk(heading_path=best.heading_path, text=best.text),
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Test a question",
            "opts": self.model._meta,
            "question": question,
            "audience": audience,
            "audiences": [("anonymous", "Anonymous visitor"), ("verified", "Verified customer"), ("agent", "Agent")],
            "result": result,
            "passage": passage,
            "threshold": answer_threshold(),
            "stale_chunks": sum(chunks_from_other_models().values()),
        }
        return TemplateResponse(request, "admin/knowledge/test_question.html", context)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        article_save(article=obj, author=request.user)

    @admin.action(description="Restore the previous revision")
    def restore_previous_revision(self, request, queryset) -> None:
        for article in queryset:
            revisions = list(article.revisions.order_by("-number")[:2])
            if len(revisions) < 2:
                self.message_user(request, f"{article}: no earlier revision", messages.WARNING)
                continue
            article_restore_revision(revision=revisions[1], author=request.user)
            self.message_user(request, f"{article}: restored revision {revisions[1].number}")


class GlossaryEntryForm(forms.ModelForm):
    class Meta:
        model = GlossaryEntry
        fields = ("terms",)

    def clean_terms(self) -> list[str]:
        try:
            return glossary_terms_clean(terms=self.cleaned_data["terms"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(GlossaryEntry)
class GlossaryEntryAdmin(admin.ModelAdmin):
    """Synonyms apply to the next question asked: no re-index needed."""

    form = GlossaryEntryForm
    list_display = ("__str__", "updated_at")
    search_fields = ("terms",)


class ProductWordForm(forms.ModelForm):
    class Meta:
        model = ProductWord
        fields = ("term",)

    def clean_term(self) -> str:
        try:
            return product_word_clean(term=self.cleaned_data["term"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(ProductWord)
class ProductWordAdmin(admin.ModelAdmin):
    """What the shop sells: a product word of a question that the best article lacks does not
    lower the answer confidence (unless the article's title or a heading names a product). Applies
    at once in the process that saved it and within 10 s in the others: no re-index needed."""

    form = ProductWordForm
    list_display = ("term", "updated_at")
    search_fields = ("term",)


@admin.register(KnowledgeBaseSettings)
class KnowledgeBaseSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "answer_threshold", "calibrated_at")
    readonly_fields = ("calibrated_at", "calibration_note")
    fields = ("answer_threshold", "calibrated_at", "calibration_note")

    def has_add_permission(self, request) -> bool:
        return not KnowledgeBaseSettings.objects.exists()
