"""What an answer quotes from the article it cites (the offline responder's reply).

Retrieval ranks an article by its best-scoring section, but that section is not reliably the one
that answers: "How long does delivery take?" matches the delivery article's alternative question,
and its introduction ("Most orders leave our warehouse within one business day") outscores the
"Delivery estimates" list by 0.001. Quoting only that section left the question unanswered, and
quoting a list without its heading ("- Worn footwear" under "What cannot be returned") said the
opposite of the article. So an article short enough to read in a chat bubble is quoted whole, in
its author's order and with its headings; a longer one by its best section, headed.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt

from knowledge.chunking import HEADING_LINE, HEADING_SEPARATOR, chunk_markdown
from knowledge.models import Article, Chunk
from knowledge.selectors import AUDIENCE_ARTICLES, Audience

# The widget shows text, never HTML: inline Markdown ("**Forgot password**", links) is read as the
# words it marks up.
_INLINE = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

# Larger than any article: chunk_markdown then cuts only at headings, one draft per section.
_WHOLE_SECTION_TOKENS = 10**6

# About three short paragraphs: every demo article and a typical FAQ answer (the faqproxy set's
# longest is 367 characters) fits whole.
PASSAGE_LIMIT = 700


@dataclass(frozen=True)
class Section:
    heading: str  # the section's own heading ("" for the text before the first one)
    text: str

    @classmethod
    def of_chunk(cls, *, heading_path: str, text: str) -> Section:
        return cls(heading=heading_path.split(HEADING_SEPARATOR)[-1].strip() if heading_path else "", text=text)


def answer_passage(*, article_id: int, audience: Audience, best: Section) -> str:
    """The text to quote from the article: its sections whole when they fit in PASSAGE_LIMIT,
    else `best` (the chunk retrieval ranked first) under its heading. The sections are read from
    the article's body as written (the index may cut one section into overlapping chunks); one
    with a chunk flagged as reading like instructions is never quoted, as retrieval never
    returns those. Only a published article this audience may read is quoted whole."""
    body = (
        Article.objects.filter(pk=article_id, status=Article.Status.PUBLISHED, audience__in=AUDIENCE_ARTICLES[audience])
        .values_list("body", flat=True)
        .first()
    )
    if body is None:
        return passage_excerpt(best)
    flagged = set(
        Chunk.objects.filter(article_id=article_id, looks_like_instructions=True).values_list("heading_path", flat=True)
    )
    sections = [
        Section.of_chunk(heading_path=draft.heading_path, text=draft.text)
        for draft in chunk_markdown(body, max_tokens=_WHOLE_SECTION_TOKENS, overlap_tokens=0)
        if draft.heading_path not in flagged
    ]
    whole = passage_whole(sections)
    if whole is not None:
        return whole
    return passage_excerpt(best)


def passage_whole(sections: list[Section], limit: int = PASSAGE_LIMIT) -> str | None:
    """The sections in order, each under its heading line, or None when they do not fit."""
    if not sections:
        return None
    parts = [_with_heading(section.heading, _plain_lines(section.text)) for section in sections]
    text = "\n\n".join(part for part in parts if part)
    return text if len(text) <= limit else None


def passage_excerpt(section: Section, limit: int = PASSAGE_LIMIT) -> str:
    """Whole lines from the start of the section under its heading, cut at a sentence end past
    `limit`. Lists keep their line breaks."""
    kept: list[str] = []
    room = limit - len(section.heading) - 2
    for line in _plain_lines(section.text):
        used = sum(len(k) + 1 for k in kept)
        if used + len(line) > room:
            cut = line[: room - used]
            end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
            if end > (room - used) // 3:
                kept.append(cut[: end + 1])
            elif not kept:
                kept.append(cut.rstrip() + "…")
            break
        kept.append(line)
    return _with_heading(section.heading, kept)


def _plain_lines(text: str) -> list[str]:
    """The text's non-empty lines with spaces collapsed and inline Markdown read as words;
    Markdown heading lines are dropped (the section's heading is written once, above them)."""
    return [
        _plain_inline(" ".join(line.split()))
        for line in text.splitlines()
        if line.strip() and not HEADING_LINE.match(line)
    ]


def _plain_inline(line: str) -> str:
    """ "choose **Forgot password** or [write to us](mailto:help@acme.example)" as "choose Forgot
    password or write to us (mailto:help@acme.example)"."""
    words: list[str] = []
    href, link_start = "", 0
    for token in _INLINE.parseInline(line):
        for child in token.children or []:
            if child.type in ("text", "code_inline", "image"):
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
            elif child.type == "link_open":
                href, link_start = str(child.attrGet("href") or ""), len(words)
            elif child.type == "link_close":
                # "<https://acme.example>" reads as the address once, not "address (address)"
                if href and "".join(words[link_start:]) not in (href, href.removeprefix("mailto:")):
                    words.append(f" ({href})")
                href = ""
    return "".join(words)


def _with_heading(heading: str, lines: list[str]) -> str:
    if not lines:
        return ""
    if not heading:
        return "\n".join(lines)
    # "What cannot be returned:" but "Can I cancel?" as written
    return "\n".join([heading if heading[-1] in "?!:." else f"{heading}:", *lines])
