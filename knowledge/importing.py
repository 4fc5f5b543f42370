"""Reading article files for `kb_import`. Each file or JSON item either imports whole or is
reported with its own error; one bad item never stops the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.text import slugify

from knowledge.fetching import ImportFailure, fetch_document
from knowledge.html_text import html_to_markdown
from knowledge.models import Article

MAX_FILE_BYTES = 2_000_000
SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".json"}
MAX_QUESTIONS = 50
QUESTION_MAX_CHARS = 500


@dataclass
class ArticleData:
    title: str
    body: str
    slug: str
    audience: str = Article.Audience.PUBLIC
    source_url: str = ""
    tags: list[str] = field(default_factory=list)
    questions: list[str] | None = None  # None: leave the article's alternative questions as they are
    language: str | None = None  # None: a new article is English, an existing one keeps its language


@dataclass(frozen=True)
class Source:
    """A file on disk or a document at an http(s) URL."""

    location: str
    is_url: bool = False

    def __str__(self) -> str:
        return self.location


def iter_sources(locations: list[str]) -> Iterator[Source]:
    for location in locations:
        if location.startswith(("http://", "https://")):
            yield Source(location, is_url=True)
            continue
        path = Path(location)
        if path.is_dir():
            yield from (
                Source(str(p))
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
        else:
            yield Source(location)


def read_articles(source: Source) -> list[ArticleData | ImportFailure]:
    """The articles in one file or URL; a JSON document may hold many, each validated on its own."""
    if source.is_url:
        document = fetch_document(source.location, max_bytes=MAX_FILE_BYTES)
        return parse_document(
            name=document.name, suffix=document.suffix, data=document.data, source_url=source.location
        )
    path = Path(source.location)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ImportFailure(f"unsupported file type {path.suffix or '(none)'}; use .md, .txt, .html or .json")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportFailure(f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    return parse_document(name=path.stem, suffix=path.suffix.lower(), data=path.read_bytes())


def parse_document(*, name: str, suffix: str, data: bytes, source_url: str = "") -> list[ArticleData | ImportFailure]:
    if not data:
        raise ImportFailure("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImportFailure(f"the file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportFailure(f"not UTF-8 text (byte {error.start})") from None
    if suffix == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as error:
            raise ImportFailure(f"invalid JSON: {error}") from None
        if not isinstance(items, list):
            raise ImportFailure("a JSON file must hold a list of articles")
        return [_from_json(item, n) for n, item in enumerate(items)]
    fallback = name.replace("-", " ").replace("_", " ").strip().capitalize()
    if suffix in (".html", ".htm"):
        html_title, text = html_to_markdown(text)
        if not text.strip():
            raise ImportFailure("no readable text in this HTML")
        fallback = html_title or fallback
    title, body = _title_and_body(text, fallback=fallback or "Untitled")
    slug = slugify(name)[:255] or slugify(title)[:255]
    return [ArticleData(title=title, body=body, slug=slug, source_url=source_url[:500])]


def _from_json(item: object, n: int) -> ArticleData | ImportFailure:
    if not isinstance(item, dict):
        return ImportFailure(f"item {n}: not an object")
    title, body = item.get("title"), item.get("body")
    if not isinstance(title, str) or not title.strip() or not isinstance(body, str) or not body.strip():
        return ImportFailure(f"item {n}: 'title' and 'body' must be non-empty strings")
    audience = item.get("audience", Article.Audience.PUBLIC)
    if audience not in Article.Audience.values:
        return ImportFailure(f"item {n}: audience must be one of {', '.join(Article.Audience.values)}")
    language = item.get("language")
    languages = [code for code, _name in settings.LANGUAGES]
    if language is not None and language not in languages:
        return ImportFailure(f"item {n}: language must be one of {', '.join(languages)}")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return ImportFailure(f"item {n}: tags must be a list of strings")
    url = str(item.get("url") or "")
    if url and not url.startswith(("http://", "https://")):
        return ImportFailure(f"item {n}: url must be an http(s) URL")
    questions = item.get("questions")
    if questions is not None:
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            return ImportFailure(f"item {n}: questions must be a list of non-empty strings")
        if len(questions) > MAX_QUESTIONS or any(len(q.strip()) > QUESTION_MAX_CHARS for q in questions):
            return ImportFailure(
                f"item {n}: at most {MAX_QUESTIONS} questions of at most {QUESTION_MAX_CHARS} characters"
            )
        questions = list(dict.fromkeys(q.strip() for q in questions))
    slug = item.get("slug") or slugify(title)
    if not isinstance(slug, str) or slugify(slug) != slug or not slug:
        return ImportFailure(f"item {n}: slug {slug!r} must be lowercase letters, digits and hyphens")
    return ArticleData(
        title=title.strip()[:255],
        body=body,
        slug=slug[:255],
        audience=audience,
        source_url=url[:500],
        tags=[t[:50] for t in tags],
        questions=questions,
        language=language,
    )


def _title_and_body(text: str, *, fallback: str) -> tuple[str, str]:
    """A leading `# Title` line becomes the title; otherwise the file name does."""
    stripped = text.lstrip()
    if not stripped.strip():
        raise ImportFailure("the file has no text")
    first, _, rest = stripped.partition("\n")
    if first.startswith("# "):
        return first[2:].strip()[:255], rest.strip() or first[2:].strip()
    return fallback[:255], text.strip()
