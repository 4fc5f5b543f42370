"""Article Markdown to HTML for the public help pages. markdown-it-py with raw HTML disabled
(editors' text is escaped, and its link validation refuses javascript: URLs); headings get the
same anchors as their chunks, so a citation can point at the section it came from."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def article_html(body: str) -> SafeString:
    tokens = _MARKDOWN.parse(body)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            token.attrSet("id", slugify(tokens[index + 1].content))
    return mark_safe(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))  # noqa: S308 (escaped by markdown-it)
