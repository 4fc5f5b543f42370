"""The glossary's synonyms in a question: which groups it uses, what is embedded with it, and the
all-words full-text query in which a used term may be matched by any of its synonyms.

A term is found in the question on its word forms, stemmed the way the full-text index and the
coverage signal stem (Postgres's `english_stem`, the Snowball English stemmer): "refunds" uses
"refund", "shipped" uses "shipping". Snowball conflates inflections but not a verb with its noun
("delivered" -> deliv, "delivery" -> deliveri), so two stems also count as one form when the
shorter (5 letters or more) starts the longer and the longer adds at most 3 letters: deliv /
deliveri, cover / coverag. That rule is hand-written (no stemmer or lemmatizer in the registry
knows derivations across word classes without a dictionary we would have to ship); the length
floor keeps "pack" (a backpack) from matching "packag" (a parcel), and a word the stemmer cut
by more than 4 letters ("personalized" -> person) matches only as written. Stop words ("in" of
"sign in") are compared as written. With `RetrievalOptions.glossary_forms` (off by default: it
won on no dev split) retrieval uses the word forms for the full-text query and the coverage; the
embedded text gets a word form's synonyms only with
`RetrievalOptions.glossary_forms_embedded` (docs/performance.md, "the glossary on word forms").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")

# A verb and its noun as Snowball stems them: the shorter stem starts the longer, which adds at
# most this many letters ("deliv" / "deliveri"), and the shorter has at least MIN_PREFIX_STEM.
MAX_EXTRA_LETTERS = 3
MIN_PREFIX_STEM = 5
# A word the stemmer cut by more than this many letters lost a derivational suffix, not an
# inflection ("personalized" -> person, "authorization" -> author; "shipping" -> ship loses 4):
# its stem stands for other words too, so it matches only as written.
MAX_STRIPPED_LETTERS = 4

# Stems never change (the dictionary is Postgres's built-in english_stem), so a word is looked up
# once per process; the cap only bounds memory against a flood of distinct words.
_STEM_CACHE_SIZE = 50_000
_stems: dict[str, str] = {}


@dataclass(frozen=True)
class Expansion:
    synonyms: list[str]  # added to the embedded question and to an any-word full-text query
    # Each glossary term the question uses, as the question writes it, with its synonyms: in the
    # all-words full-text query that word may be matched by any of them.
    alternatives: list[tuple[str, list[str]]] = field(default_factory=list)
    remainder: str = ""  # the question without those terms
    # the question's own words that use a glossary term ("delivered"): a chunk holding one of
    # their synonyms covers them
    used_terms: list[str] = field(default_factory=list)


def word_stems(words: Iterable[str]) -> dict[str, str]:
    """Each word (lower-cased) -> its Postgres english_stem lexeme, "" for a stop word. One query
    for the words not seen before in this process, none when every word was."""
    wanted = {w.lower() for w in words}
    missing = sorted(w for w in wanted if w not in _stems)
    found: dict[str, str] = {}
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT w, coalesce((ts_lexize('english_stem', w))[1], '') FROM unnest(%s::text[]) AS w", [missing]
            )
            found = {word: stem for word, stem in cursor.fetchall()}
    stems = {w: found[w] if w in found else _stems[w] for w in wanted}
    if len(_stems) + len(found) > _STEM_CACHE_SIZE:
        _stems.clear()
    _stems.update(found)
    return stems


def same_form(a: str, b: str) -> bool:
    """Are two stems one word's forms (equal, or a verb and its noun: see the module's note)?"""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_PREFIX_STEM and long.startswith(short) and len(long) - len(short) <= MAX_EXTRA_LETTERS


def _forms_match(said: tuple[str, str], term: tuple[str, str]) -> bool:
    """A question's word and a term's word, each (word, stem)."""
    (word, stem), (term_word, term_stem) = said, term
    if word == term_word:
        return True
    # a stop word matches only itself; stems of one form share their first letters
    if not stem or not term_stem or stem[:3] != term_stem[:3]:
        return False
    inflected = (
        len(word) - len(stem) <= MAX_STRIPPED_LETTERS and len(term_word) - len(term_stem) <= MAX_STRIPPED_LETTERS
    )
    return inflected and same_form(stem, term_stem)


def _same_stem(said: tuple[str, str], term: tuple[str, str]) -> bool:
    return said[1] == term[1] if term[1] else said[0] == term[0]


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.lower()))


def _find(term: list[tuple[str, str]], question: list[tuple[str, str]], *, exact: bool) -> list[tuple[int, int]]:
    """Where the term's (word, stem) sequence occurs in the question's, as token index ranges. A
    stop word must be the same word; a content word the same stem (`exact`) or the same form."""
    match = _same_stem if exact else _forms_match
    spans = []
    for start in range(len(question) - len(term) + 1):
        for offset, word in enumerate(term):
            if not match(question[start + offset], word):
                break
        else:
            spans.append((start, start + len(term)))
    return spans


def glossary_expand(*, question: str, entries: list[list[str]], word_forms: bool = True) -> Expansion:
    """The synonyms of the glossary terms that the question uses (any case; on their word forms,
    or with `word_forms` False on whole words as written: `RetrievalOptions.glossary_forms`)."""
    if not word_forms or not entries:  # no glossary: nothing to stem
        return _whole_words_expand(question=question, entries=entries)
    lowered = question.lower()
    tokens = list(_TOKEN.finditer(lowered))
    term_tokens = {term: _words(term) for terms in entries for term in terms}
    stems = word_stems([m.group() for m in tokens] + [w for words in term_tokens.values() for w in words])
    said = [(m.group(), stems[m.group()]) for m in tokens]
    removed: set[int] = set()
    synonyms: list[str] = []
    alternatives: list[tuple[str, list[str]]] = []
    used_terms: list[str] = []
    for terms in entries:
        forms = {term: [(w, stems[w]) for w in term_tokens[term]] for term in terms if term_tokens[term]}
        for term, form in forms.items():
            spans = _find(form, said, exact=False)
            if not spans:
                continue
            # a synonym the question already holds (same stem) adds nothing; a term it uses in
            # another form ("delivered" for "delivery") is added, for the text that says "delivery"
            others = [t.lower() for t in terms if t not in forms or not _find(forms[t], said, exact=True)]
            synonyms += others
            if others:
                start, end = spans[0]
                used = lowered[tokens[start].start() : tokens[end - 1].end()]
                used_terms.append(used)
                alternatives.append((used, others))
                for start, end in spans:
                    removed.update(range(start, end))
            break
    return Expansion(list(dict.fromkeys(synonyms)), alternatives, _without(lowered, tokens, removed), used_terms)


def _without(text: str, tokens: list[re.Match[str]], removed: set[int]) -> str:
    """`text` with the removed tokens blanked, punctuation kept ("how long does take?")."""
    pieces, at = [], 0
    for n in sorted(removed):
        pieces.append(text[at : tokens[n].start()])
        pieces.append(" ")
        at = tokens[n].end()
    pieces.append(text[at:])
    return " ".join("".join(pieces).split())


def _whole_words_expand(*, question: str, entries: list[list[str]]) -> Expansion:
    """The glossary before word forms: a term is used only where it occurs as written."""
    lowered = question.lower()
    remainder = lowered
    synonyms: list[str] = []
    alternatives: list[tuple[str, list[str]]] = []
    used_terms: list[str] = []
    for terms in entries:
        for term in terms:
            pattern = re.compile(rf"\b{re.escape(term.lower())}\b")
            if not pattern.search(lowered):
                continue
            others = [t for t in terms if not re.search(rf"\b{re.escape(t.lower())}\b", lowered)]
            synonyms += others
            if others:
                used_terms.append(term)
                alternatives.append((term.lower(), [other.lower() for other in others]))
                remainder = pattern.sub(" ", remainder)
            break
    return Expansion(list(dict.fromkeys(synonyms)), alternatives, " ".join(remainder.split()), used_terms)


def all_words_tsquery(expansion: Expansion, params: dict) -> str:
    """Every word of the question, where a glossary term may be matched by any of its synonyms:
    (rest of the question) && (term || synonym || ...) for each term. One condition for the index
    to evaluate, where one all-words query per synonym swap read the common words' postings once
    per swap (measured: the glossary had been most of retrieval's cost at 100k chunks)."""
    if not expansion.alternatives:
        return "plainto_tsquery('english', %(text0)s)"
    params["remainder"] = expansion.remainder
    parts = ["plainto_tsquery('english', %(remainder)s)"]
    for group, (term, others) in enumerate(expansion.alternatives):
        names = []
        for n, text in enumerate([term, *others]):
            params[f"alt{group}_{n}"] = text
            names.append(f"plainto_tsquery('english', %(alt{group}_{n})s)")
        parts.append("(" + " || ".join(names) + ")")
    return " && ".join(parts)


def search_text(question: str, synonyms: list[str]) -> str:
    """What is embedded: the question, with the glossary's synonyms after it."""
    return f"{question} ({', '.join(synonyms)})" if synonyms else question
