"""Heading-aware chunking."""

from __future__ import annotations

import pytest

from knowledge.chunking import chunk_markdown, count_tokens

ARTICLE = """Intro paragraph about returns.

# Returns

You can return most items within 30 days.

## Refund times

Refunds reach your card in 5-10 business days.

```
# not a heading inside code
```

## Exceptions

Gift cards cannot be returned.
"""


def test_it_carries_heading_paths_and_anchors():
    chunks = chunk_markdown(ARTICLE, max_tokens=200)
    assert [c.headings for c in chunks] == [(), ("Returns",), ("Returns", "Refund times"), ("Returns", "Exceptions")]
    assert [c.anchor for c in chunks] == ["", "returns", "refund-times", "exceptions"]
    assert "# not a heading inside code" in chunks[2].text
    assert chunks[2].heading_path == "Returns › Refund times"
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]


def test_it_packs_to_the_token_budget_with_overlap():
    sentences = " ".join(f"Sentence number {n} is about shipping." for n in range(120))
    chunks = chunk_markdown(f"# Shipping\n\n{sentences}", max_tokens=60, overlap_tokens=10)
    assert len(chunks) > 5
    assert all(c.token_count <= 60 for c in chunks)
    # Consecutive chunks share their boundary sentence.
    for previous, following in zip(chunks, chunks[1:]):
        assert previous.text.split(". ")[-1].rstrip(".") in following.text


def test_it_splits_a_run_on_paragraph_without_sentence_ends():
    words = " ".join(["word"] * 500)
    chunks = chunk_markdown(words, max_tokens=50, overlap_tokens=0)
    assert all(c.token_count <= 50 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) == 500


def test_it_skips_empty_sections_and_empty_bodies():
    assert chunk_markdown("") == []
    assert [c.headings for c in chunk_markdown("# A\n\n# B\n\ntext")] == [("B",)]


def test_it_rejects_nonsense_budgets():
    with pytest.raises(ValueError):
        chunk_markdown("x", max_tokens=5)
    with pytest.raises(ValueError):
        chunk_markdown("x", max_tokens=100, overlap_tokens=60)


def test_tokens_are_words_and_punctuation():
    assert count_tokens("Where's my order, A1234?") == 8  # Where ' s my order , A1234 ?
