"""Soft word coverage (`RetrievalOptions.soft_coverage`, off by default): in the confidence's word
coverage, a question word (stem) the article's retrieved text does not hold exactly counts as
covered, fully or by its cosine (`soft_credit`), when that text holds a word whose single-word
embedding is at least `soft_threshold` close to it.

Why: real customers use words no article holds. "the box came dented" ranks the damaged-delivery
article first, but "dented" is not "damaged", so the coverage (an exact stem match in SQL, plus
the glossary's synonyms) counts it as missing and the confidence stays under the threshold. One
MiniLM embedding per word puts dented~damaged at 0.61, zip~zippers 0.60, wore~worn 0.86, but also
early~later 0.70 (an antonym) and unrelated words at 0.45-0.55: the threshold is the lever's
whole risk, measured with `kb_eval --levers "soft coverage"` (docs/performance.md, "soft word
coverage").

The data: one unit vector per content word of the knowledge base's vocabulary (`kb_vocabulary`,
the spelling corrector's: every word of the published articles, their alternative questions and
the glossary; stop words and words under three letters left out), embedded in one go the first
time a process needs it and again only for the words a rebuilt vocabulary adds. A question's
words that are not in it are embedded in one batch per question and kept in the same per-process
table (bounded). An article's words are read from its retrieved chunks' text, as the exact
coverage reads them, so no per-article table is kept.

Where it embeds: in the calling process, through `get_embedder()`. A question's few words are a
chat-sized call (the model workers take it when the process has them), but the vocabulary is
thousands of words, which `LocalMiniLM.embed` runs in the calling process: in a bot turn that is
the web process, which otherwise never loads the encoder. The lever is off by default; a
production turn would need the vocabulary's vectors made where the chunks' are (the indexing
worker) and read from the database, and the question's words embedded with the turn's batch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import numpy as np

from knowledge.glossary import word_stems
from knowledge.kb_cache import kb_vocabulary
from knowledge.retrieval_options import RetrievalOptions, SoftCredit
from knowledge.spelling import Vocabulary
from supportbot.llm.embeddings import get_embedder

# Words as the spelling vocabulary counts them (letters only), lower-cased.
_WORD = re.compile(r"[^\W\d_]+")
# "to", "of" and the like are stop words (the full-text index drops them, so they are never a
# question's word); two-letter words left are mostly abbreviations whose vectors are noise.
MIN_LETTERS = 3
# Words kept besides the vocabulary's (the questions' own words), per process: a bound against a
# flood of distinct words, each vector 1.5 kB.
MAX_EXTRA_WORDS = 20_000


@dataclass(frozen=True)
class SoftMatch:
    """A question word counted as covered by a close word of the article."""

    stem: str  # the question's word as the coverage counts it (its stem)
    question_word: str  # as the question writes it
    article_word: str  # the article's closest word
    cosine: float
    credit: float  # how much of one covered word it counts for


@dataclass(frozen=True)
class _Rows:
    """The vocabulary's words as rows of one matrix; replaced whole, so a reader never sees the
    index of one vocabulary with the matrix of another."""

    vocabulary: Vocabulary | None
    index: dict[str, int]
    matrix: np.ndarray
    stems: frozenset[str]  # the stems of the vocabulary's content words: the words the knowledge base uses


class WordVectors:
    """Unit vectors of single words by one embedding model, kept per process: the knowledge base's
    vocabulary as one matrix (an article's words are rows of it), the questions' other words in a
    bounded table beside it."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self._lock = threading.Lock()
        self.rows = _Rows(None, {}, np.zeros((0, 0), dtype=np.float32), frozenset())
        self._extra: dict[str, np.ndarray] = {}

    def vocabulary_ready(self, vocabulary: Vocabulary) -> None:
        """Make sure every content word of `vocabulary` has its row: one embedding batch for the
        words not seen before (all of them, the first time), none when the vocabulary is the one
        already read."""
        if vocabulary is self.rows.vocabulary:
            return
        with self._lock:
            old = self.rows
            if vocabulary is old.vocabulary:
                return
            candidates = [w for w in vocabulary.counts if len(w) >= MIN_LETTERS]
            stems = word_stems(candidates)
            content = sorted(w for w in candidates if stems[w])  # "" is a stop word
            new = [w for w in content if w not in old.index and w not in self._extra]
            fresh = dict(zip(new, _unit_rows(get_embedder().embed(new)))) if new else {}

            def row(word: str) -> np.ndarray:
                if word in fresh:
                    return fresh[word]
                return self._extra[word] if word in self._extra else old.matrix[old.index[word]]

            matrix = np.vstack([row(w) for w in content]) if content else np.zeros((0, 0), dtype=np.float32)
            known = frozenset(stems[w] for w in content)
            self.rows = _Rows(vocabulary, {w: n for n, w in enumerate(content)}, matrix, known)
            self._extra = {w: v for w, v in self._extra.items() if w not in self.rows.index}

    def vectors(self, words: Collection[str]) -> dict[str, np.ndarray]:
        """Each word's unit vector; the ones never seen are embedded in one batch."""
        rows, extra = self.rows, self._extra  # both replaced, never changed: a consistent read
        new = sorted(w for w in words if w not in rows.index and w not in extra)
        fresh = dict(zip(new, _unit_rows(get_embedder().embed(new)))) if new else {}
        if fresh:
            with self._lock:
                kept = self._extra if len(self._extra) + len(fresh) <= MAX_EXTRA_WORDS else {}
                self._extra = {**kept, **fresh}
        return {
            w: fresh[w] if w in fresh else rows.matrix[rows.index[w]] if w in rows.index else extra[w] for w in words
        }


def _unit_rows(vectors: list[list[float]]) -> list[np.ndarray]:
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return list(matrix)


_tables: dict[str, WordVectors] = {}


def word_vectors() -> WordVectors:
    """This process's word vectors for the configured embedding model, its vocabulary current."""
    model = get_embedder().model_name
    table = _tables.get(model)
    if table is None:
        table = _tables.setdefault(model, WordVectors(model))
    table.vocabulary_ready(kb_vocabulary())
    return table


def words_of(texts: Iterable[str]) -> set[str]:
    """The lower-cased words of `texts`, as the vocabulary counts them."""
    return {w for text in texts for w in _WORD.findall(text.lower())}


class QuestionWords:
    """A question's words by the stems the coverage counts (`words` of the search), and their
    vectors, embedded only when a stem is looked up: a question whose best article holds every
    word costs nothing."""

    def __init__(self, question: str, *, table: WordVectors) -> None:
        self.table = table
        tokens = [w for w in dict.fromkeys(_WORD.findall(question.lower())) if len(w) >= MIN_LETTERS]
        stems = word_stems(tokens) if tokens else {}
        self._tokens: dict[str, list[str]] = {}
        for token in tokens:
            if stems[token]:
                self._tokens.setdefault(stems[token], []).append(token)
        self._vectors: dict[str, np.ndarray] = {}

    def tokens_of(self, stems: Iterable[str]) -> list[str]:
        return [t for stem in stems for t in self._tokens.get(stem, ())]

    def embedded(self, stems: Iterable[str]) -> None:
        """Vectors for the words of these stems, the unseen ones in one batch."""
        wanted = [t for t in self.tokens_of(stems) if t not in self._vectors]
        if wanted:
            self._vectors.update(self.table.vectors(wanted))

    def matches(
        self,
        missing: Collection[str],
        article_words: set[str],
        *,
        threshold: float,
        credit: SoftCredit,
        unknown_only: bool,
    ) -> dict[str, SoftMatch]:
        """The `missing` stems that a word of the article is close enough to, each with its best
        match; with `unknown_only`, only stems no word of the knowledge base has. A stem whose
        words are not in the question as the vocabulary splits them (a number, a hyphenated
        compound) gets none."""
        rows = self.table.rows
        if unknown_only:
            missing = [stem for stem in missing if stem not in rows.stems]
        if not self.tokens_of(missing):
            return {}
        self.embedded(missing)
        words = [w for w in article_words if w in rows.index]
        if not words:
            return {}
        candidates = rows.matrix[[rows.index[w] for w in words]]
        found: dict[str, SoftMatch] = {}
        for stem in missing:
            for token in self._tokens.get(stem, ()):
                cosines = candidates @ self._vectors[token]
                best = int(np.argmax(cosines))
                cosine = float(cosines[best])
                if cosine < threshold or (stem in found and found[stem].cosine >= cosine):
                    continue
                found[stem] = SoftMatch(stem, token, words[best], cosine, 1.0 if credit == "full" else min(1.0, cosine))
        return found


@dataclass(frozen=True)
class ArticleWords:
    """An article's coverage of the question's words, before any soft match."""

    covered: int  # question words (stems) its retrieved text holds, or their glossary synonyms
    missing: frozenset[str]  # the ones it lacks, product words it may lack left out
    explained: frozenset[str]  # ... of which another candidate article holds
    counted: int  # the confidence's denominator: at most `coverage_words` words

    def confidence_shares(self, soft: dict[str, SoftMatch]) -> tuple[float, float]:
        """The confidence's coverage and the share of missing words explained elsewhere: a soft
        match counts as its credit of a covered word, and only the rest of it as missing."""
        if not self.counted:
            return 0.0, 0.0
        credit = sum(m.credit for m in soft.values())
        coverage = min(1.0, (self.covered + credit) / self.counted)
        explained = sum(1.0 - (soft[w].credit if w in soft else 0.0) for w in self.explained)
        return coverage, min(1.0 - coverage, explained / self.counted)


def soft_matcher(
    question: str, *, article_texts: Callable[[int], list[str]], options: RetrievalOptions
) -> Callable[[int, frozenset[str]], dict[str, SoftMatch]]:
    """(article id, the question words it lacks) -> their soft matches (`RetrievalOptions.soft_coverage`),
    computed on first call; none while the lever is off. The article's words are those of its
    retrieved chunks, the text the exact coverage reads."""
    if not options.soft_coverage:
        return lambda _article_id, _missing: {}
    question_words = QuestionWords(question, table=word_vectors())
    found: dict[int, dict[str, SoftMatch]] = {}

    def matches(article_id: int, missing: frozenset[str]) -> dict[str, SoftMatch]:
        if article_id not in found:
            found[article_id] = (
                question_words.matches(
                    missing,
                    words_of(article_texts(article_id)),
                    threshold=options.soft_threshold,
                    credit=options.soft_credit,
                    unknown_only=options.soft_unknown_only,
                )
                if missing
                else {}
            )
        return found[article_id]

    return matches
