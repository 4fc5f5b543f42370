"""Heading-aware chunking of Markdown articles.

Each chunk knows its heading path (carried into what gets embedded and searched, so a chunk
deep in "Returns › Refund times" still matches a question about refunds) and the anchor of its
nearest heading (for citation links). Sections are packed paragraph by paragraph up to a token
budget; an oversized paragraph is split at sentence, then word, boundaries; consecutive chunks
of one section overlap by a few tokens so a sentence cut at a boundary is still whole somewhere.

Tokens are counted as words and punctuation marks (`\\w+|[^\\w\\s]`): close to what the
MiniLM tokenizer produces for English prose, and independent of any model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.text import slugify

HEADING_LINE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")  # "## Returns", not "#1 bestseller"
_FENCE = re.compile(r"^\s*(```|~~~)")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

HEADING_SEPARATOR = " › "


@dataclass(frozen=True)
class ChunkDraft:
    ordinal: int
    headings: tuple[str, ...]
    anchor: str
    text: str
    token_count: int

    @property
    def heading_path(self) -> str:
        return HEADING_SEPARATOR.join(self.headings)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def chunk_markdown(body: str, *, max_tokens: int = 200, overlap_tokens: int = 30) -> list[ChunkDraft]:
    if max_tokens < 20:
        raise ValueError("max_tokens must be at least 20")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError("overlap_tokens must be between 0 and half of max_tokens")
    drafts: list[ChunkDraft] = []
    for headings, paragraphs in _sections(body):
        anchor = slugify(headings[-1]) if headings else ""
        for text in _pack(paragraphs, max_tokens, overlap_tokens):
            drafts.append(ChunkDraft(len(drafts), headings, anchor, text, count_tokens(text)))
    return drafts


def _sections(body: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Split into (heading path, paragraphs) sections; code fences are kept whole."""
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    stack: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False

    def end_paragraph() -> None:
        if current and "\n".join(current).strip():
            paragraphs.append("\n".join(current).strip())
        current.clear()

    def end_section() -> None:
        end_paragraph()
        if paragraphs:
            sections.append((tuple(title for _, title in stack), list(paragraphs)))
        paragraphs.clear()

    for line in body.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            current.append(line)
            continue
        heading = None if in_fence else HEADING_LINE.match(line)
        if heading:
            end_section()
            level, title = len(heading.group(1)), heading.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
        elif not line.strip() and not in_fence:
            end_paragraph()
        else:
            current.append(line)
    end_section()
    return sections


def _pack(paragraphs: list[str], max_tokens: int, overlap_tokens: int) -> list[str]:
    pieces: list[str] = []
    for paragraph in paragraphs:
        pieces.extend(_split_long(paragraph, max_tokens - overlap_tokens))
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        piece_size = count_tokens(piece)
        if current and size + piece_size > max_tokens:
            chunks.append("\n\n".join(current))
            tail = _tail(chunks[-1], overlap_tokens)
            current, size = ([tail], count_tokens(tail)) if tail else ([], 0)
        current.append(piece)
        size += piece_size
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _split_long(paragraph: str, limit: int) -> list[str]:
    if count_tokens(paragraph) <= limit:
        return [paragraph]
    parts: list[str] = []
    buffer = ""
    for sentence in _SENTENCE_END.split(paragraph):
        if count_tokens(sentence) > limit:  # a run-on "sentence": cut at words
            words = sentence.split()
            step = max(1, limit // 2)
            sentence_parts = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
        else:
            sentence_parts = [sentence]
        for part in sentence_parts:
            candidate = f"{buffer} {part}".strip()
            if buffer and count_tokens(candidate) > limit:
                parts.append(buffer)
                buffer = part
            else:
                buffer = candidate
    if buffer:
        parts.append(buffer)
    return parts


def _tail(text: str, tokens: int) -> str:
    """The last whole sentences of `text` within `tokens` (nothing if one sentence is too long)."""
    if tokens == 0:
        return ""
    tail: list[str] = []
    size = 0
    for sentence in reversed(_SENTENCE_END.split(text.replace("\n\n", " "))):
        sentence_size = count_tokens(sentence)
        if size + sentence_size > tokens:
            break
        tail.insert(0, sentence)
        size += sentence_size
    return " ".join(tail)
