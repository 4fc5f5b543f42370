"""Knowledge articles, their revisions, and the chunks retrieval searches.

Chunks carry the embedding model's name: retrieval only compares vectors made by the configured
model, so changing the model can never silently mix two vector spaces.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from supportbot.llm.embeddings import EMBEDDING_COLUMN_DIMENSIONS


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    class Audience(models.TextChoices):
        PUBLIC = "public", "Everyone"
        VERIFIED_CUSTOMERS = "verified_customers", "Verified customers"
        INTERNAL = "internal", "Internal (agents only)"

    class IndexState(models.TextChoices):
        PENDING = "pending", "Pending"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"
        NOT_INDEXED = "not_indexed", "Not in retrieval"

    title = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    body = models.TextField(help_text="Markdown. Headings (#, ##, …) become citation anchors.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.PUBLIC)
    category = models.CharField(max_length=100, blank=True, default="")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    source_url = models.URLField(max_length=500, blank=True, default="")
    language = models.CharField(
        max_length=10,
        default="en",
        choices=settings.LANGUAGES,
        help_text="The language the article is written in. Retrieval prefers articles in the customer's language.",
    )
    index_state = models.CharField(max_length=12, choices=IndexState.choices, default=IndexState.NOT_INDEXED)
    index_error = models.TextField(blank=True, default="")
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["status", "audience"], name="article_status_audience_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_retrievable(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ArticleRevision(models.Model):
    """A snapshot taken on every save, for diff and restore in the admin."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Article.Status.choices)
    audience = models.CharField(max_length=20, choices=Article.Audience.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.article_id} r{self.number}"


class ArticleQuestion(models.Model):
    """A way customers ask for what the article answers ("where's my stuff?" for delivery times).
    Indexed with the article so that real customer wording finds it."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "id"]
        constraints = [models.UniqueConstraint(fields=["article", "text"], name="article_question_unique_text")]

    def __str__(self) -> str:
        return self.text


class Chunk(models.Model):
    class Kind(models.TextChoices):
        SECTION = "section", "Article section"
        # An alternative question (ArticleQuestion) embedded as its own vector: a hit on it ranks
        # the article, but the answer and citation always come from one of the article's sections.
        QUESTION = "question", "Alternative question"
        # The article's title embedded alone: FAQ titles are questions, and question-to-question
        # similarity is what the embedding model was trained on. Ranks and cites like a question.
        TITLE = "title", "Article title"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SECTION)
    ordinal = models.PositiveIntegerField()
    heading_path = models.CharField(max_length=500, blank=True, default="", help_text="e.g. Returns › Refund times")
    anchor = models.CharField(max_length=200, blank=True, default="", help_text="Slug of the nearest heading")
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    embedding = VectorField(dimensions=EMBEDDING_COLUMN_DIMENSIONS)
    embedding_model = models.CharField(max_length=200)
    # The article's audience, copied so that the HNSW scan can filter on the chunk row itself
    # (a join would make Postgres sort every vector exactly). Kept in step by article_save.
    audience = models.CharField(max_length=20, choices=Article.Audience.choices, default=Article.Audience.PUBLIC)
    search_vector = SearchVectorField()
    # Checked once, when indexed: a chunk that reads like instructions to the assistant (indirect
    # prompt injection through the knowledge base) never enters a prompt.
    looks_like_instructions = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["article", "ordinal"], name="chunk_unique_ordinal")]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.ordinal}"


class GlossaryEntry(models.Model):
    """Words customers and articles use for the same thing ("delivery", "shipping"): a question
    using one is also searched with the others."""

    terms = ArrayField(
        models.CharField(max_length=60),
        size=8,
        help_text="Comma-separated words or short phrases that mean the same, e.g. delivery, shipping, shipment",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "glossary entry"
        verbose_name_plural = "glossary"

    def __str__(self) -> str:
        return " = ".join(self.terms)


class ProductWord(models.Model):
    """A word or short phrase for something the shop sells ("tent", "sleeping bag"). In the answer
    confidence, a product word of the question that the best article lacks does not count against
    its word coverage, unless the article is about products itself (its title or a heading names
    one): "is there a warranty on sleeping bags?" is a warranty question, "how do I wash my
    sleeping bag?" is not a tent-care one (`RetrievalOptions.product_words`)."""

    term = models.CharField(
        max_length=60,
        unique=True,
        help_text="A product word or short phrase as customers write it, e.g. tent, sleeping bag, headlamp",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term"]
        verbose_name = "product word"
        verbose_name_plural = "product words"

    def __str__(self) -> str:
        return self.term


class KnowledgeBaseSettings(models.Model):
    """Per-deployment retrieval settings that `kb_eval --calibrate --apply` measures and stores
    (one row). Without a stored threshold retrieval falls back to KB_ANSWER_THRESHOLD."""

    answer_threshold = models.FloatField(null=True, blank=True)
    calibrated_at = models.DateTimeField(null=True, blank=True)
    calibration_note = models.TextField(
        blank=True, default="", help_text="What the threshold was measured on, and its rates"
    )

    class Meta:
        verbose_name = "knowledge base settings"
        verbose_name_plural = "knowledge base settings"

    def __str__(self) -> str:
        return "Knowledge base settings"
