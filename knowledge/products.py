"""The shop's product words (knowledge.models.ProductWord) in a question and in an article's title and
headings, for the answer confidence's word coverage (`RetrievalOptions.product_words`).

"is there a warranty on sleeping bags?" is answered by the warranty article, which does not say
"sleeping bags": the missing product noun lowered the confidence's coverage below the threshold.
A product word is a thing the shop sells, not a topic, so when the best article lacks it, it does
not count against the coverage. Unless the article is about products itself: an article whose
title or a heading names one ("Caring for your tent") answers about that product, and "how do I
wash my sleeping bag?" is not a tent-care question. A word that is no product ("waterproof" in
"is the tent waterproof?") still counts, so near-miss questions stay refused.

Words are compared on their stems as the full-text index holds them (Postgres's english_stem,
`glossary.word_stems`): "sleeping bags" holds the product word "sleeping bag" (sleep, bag). A
product word of several words is in the question when all of its stems are.

The product reading (`RetrievalOptions.product_reading`): the question without its product words
is searched too, and each chunk keeps its better similarity of the two readings. MiniLM weighs a
product noun heavily, so "how long would a sleeping bag take to get to Dublin?" was closest to the
size guide (which talks about sleeping bags) and "can I return a used tent?" to the
damaged-delivery article (which mentions tents); "how long would a take to get to Dublin?" is a
delivery question. The coverage still reads the whole question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.glossary import word_stems

# Each product word as the set of its stems (stop words dropped)
ProductTerms = tuple[frozenset[str], ...]

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# A Markdown heading line, as knowledge/chunking.py reads them
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def product_terms_stemmed(terms: Iterable[str]) -> ProductTerms:
    """Each product word's stems; one query for the words not stemmed before in this process."""
    words = {term: _tokens(term) for term in terms}
    stems = word_stems(w for ws in words.values() for w in ws)
    stemmed = (frozenset(stems[w] for w in ws if stems[w]) for ws in words.values())
    return tuple(dict.fromkeys(s for s in stemmed if s))


def heading_stems_build(articles: Iterable[tuple[int, str, str]]) -> dict[int, tuple[frozenset[str], ...]]:
    """(article id, title, Markdown body) -> the stems of the article's title and headings, per line:
    a product word names the article only within one title or heading."""
    lines = {article_id: [title, *_HEADING.findall(body)] for article_id, title, body in articles}
    stems = word_stems(w for texts in lines.values() for text in texts for w in _tokens(text))
    return {
        article_id: tuple(frozenset(stems[w] for w in _tokens(text) if stems[w]) for text in texts)
        for article_id, texts in lines.items()
    }


def product_stems_in(words: Iterable[str], terms: ProductTerms) -> set[str]:
    """The question's stems (`words`) that belong to a product word it holds whole."""
    held = set(words)
    return {stem for term in terms if term <= held for stem in term}


def names_a_product(heading_stems: Iterable[frozenset[str]], terms: ProductTerms) -> bool:
    """Does one of the article's title and headings (each a set of stems) name a product?"""
    return any(term <= line for line in heading_stems for term in terms)


def without_product_words(question: str, terms: ProductTerms) -> str | None:
    """`question` without the product words it holds whole ("how long would a sleeping bag take to
    get to dublin" -> "how long would a take to get to dublin"), or None when it holds none or
    nothing of substance (a word of four letters or more that is no stop word) would be left:
    "tent?" and "do you have tents?" are about the product."""
    if not terms:
        return None
    tokens = _TOKEN.findall(question)
    stems = word_stems(t.lower() for t in tokens)
    held = product_stems_in({stem for stem in stems.values() if stem}, terms)
    if not held:
        return None
    kept = [t for t in tokens if stems[t.lower()] not in held]
    if not any(stems[t.lower()] and len(t) > 3 for t in kept):  # stop words ("do you have") are nothing
        return None
    return " ".join(kept)
