"""Prompt-injection and jailbreak detection, layered: normalization, phrase heuristics, then a
logistic-regression classifier over the local MiniLM sentence embedding and hashed character
n-grams of the normalized text.

The classifier's weights are a small committed artifact (classifier.json, with its provenance),
trained by `manage.py injection_train` from the dev data; nothing is trained or downloaded at
runtime. A message is flagged when a heuristic fires or the classifier's probability reaches the
artifact's threshold (chosen for at most 1% false positives on ordinary support questions).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

from guardrails.injection.heuristics import heuristic_reasons
from guardrails.injection.normalize import normalize
from guardrails.injection.plain_replies import is_plain_reply

ARTIFACT = Path(__file__).with_name("classifier.json")
# Evasion tricks alone (invisible characters, look-alike letters, leetspeak) are suspicious but not
# proof: they push the score up without flagging on their own.
_TRICK_BONUS = 0.15
# A message that carries words in an encoding or in a comment hides them from the reader on purpose;
# no support question needs that, whatever the hidden words say.
HIDDEN_PAYLOADS = ("hidden_comment", "base64_payload", "hex_payload", "rot13_payload", "reversed_text")
_HEURISTIC_SCORE = 0.97


# Hashed character n-grams: no vocabulary to ship, the weights are the whole artifact.
class CharNgrams(TypedDict):
    """HashingVectorizer's settings, stored in the artifact too (JSON: the range is a list)."""

    analyzer: str
    ngram_range: list[int]
    n_features: int


CHAR_NGRAMS: CharNgrams = {"analyzer": "char_wb", "ngram_range": [3, 5], "n_features": 4096}


def char_ngram_vectorizer():  # -> sklearn HashingVectorizer
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=CHAR_NGRAMS["analyzer"],
        ngram_range=tuple(CHAR_NGRAMS["ngram_range"]),
        n_features=CHAR_NGRAMS["n_features"],
        alternate_sign=False,
        norm="l2",
    )


class CharNgramHasher:
    """The vectorizer's features for one text, computed directly: sklearn's `transform` costs several
    milliseconds of input checks and sparse-matrix building per call, this a fraction of one. Same
    analyzer, same hash (signed MurmurHash3, seed 0, index |h| mod n), same l2 norm: the training
    uses `char_ngram_vectorizer()` and the test suite checks that both agree."""

    def __init__(self) -> None:
        from sklearn.utils import murmurhash3_32

        self._analyze = char_ngram_vectorizer().build_analyzer()
        self._hash = murmurhash3_32
        self._n = CHAR_NGRAMS["n_features"]

    def features(self, text: str) -> dict[int, float]:
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            h = self._hash(gram, seed=0)
            index = abs(h) % self._n if h != -(2**31) else (2**31 - 1 - (self._n - 1)) % self._n
            counts[index] = counts.get(index, 0) + 1
        norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
        return {index: c / norm for index, c in counts.items()}


@dataclass(frozen=True)
class InjectionVerdict:
    flagged: bool
    score: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"flagged": self.flagged, "score": round(self.score, 4), "reasons": self.reasons}


class InjectionDetector:
    def __init__(self, *, artifact: dict, embed) -> None:  # noqa: ANN001 (embed: list[str] -> vectors)
        self.coef = artifact["coef"]
        self.intercept = artifact["intercept"]
        self.threshold = artifact["threshold"]
        self.model = artifact["embedding_model"]
        self._embed = embed
        if artifact.get("char_ngrams", CHAR_NGRAMS) != CHAR_NGRAMS:
            raise RuntimeError(
                f"{ARTIFACT.name} was trained on character n-grams {artifact['char_ngrams']}, "
                f"not {CHAR_NGRAMS}; run `manage.py injection_train`"
            )
        self.char_coef: list[float] = artifact.get("char_coef") or []  # older artifacts have none
        self._chars = CharNgramHasher() if self.char_coef else None

    def probability(self, vector: list[float], text: str) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.coef, vector))
        if self._chars is not None:
            z += sum(self.char_coef[i] * x for i, x in self._chars.features(text).items())
        return 1.0 / (1.0 + math.exp(-z))

    def check(self, text: str, *, vector: list[float] | None = None) -> InjectionVerdict:
        """`vector`: the caller's embedding of `text` when it has one (the bot reuses the
        retrieval embedding); it is only used when normalization changed nothing."""
        normalized = normalize(text)
        reasons = list(normalized.reasons)
        heuristics = heuristic_reasons(normalized.text)
        reasons += heuristics
        if not reasons and is_plain_reply(normalized.text):
            return InjectionVerdict(flagged=False, score=0.0)
        if vector is None or normalized.text != text:
            vector = self._embed([normalized.text[:2000]])[0]
        probability = self.probability(vector, normalized.text[:2000])
        score = probability
        if heuristics:
            score = max(score, _HEURISTIC_SCORE)
        if normalized.reasons:
            score = min(1.0, score + _TRICK_BONUS)
        hidden = any(reason in HIDDEN_PAYLOADS for reason in normalized.reasons)
        if hidden:
            score = max(score, _HEURISTIC_SCORE)
        if probability >= self.threshold:
            reasons.append("classifier")
        return InjectionVerdict(
            flagged=bool(heuristics) or hidden or score >= self.threshold, score=score, reasons=reasons
        )


def untrusted_text_check(text: str) -> InjectionVerdict:
    """For knowledge chunks and tool results: phrase heuristics and hidden-text tricks only. The
    classifier is calibrated on what customers type; reference text full of imperatives ("press
    and hold", "agents can override") would trip it, and this check needs no model."""
    normalized = normalize(text)
    heuristics = heuristic_reasons(normalized.text)
    hiding = [r for r in normalized.reasons if r in ("invisible_characters", *HIDDEN_PAYLOADS)]
    # Text hidden from readers (invisible characters, comments, encoded blobs) has no business in
    # an article or an API answer, whatever it says.
    flagged = bool(heuristics) or bool(hiding)
    return InjectionVerdict(flagged=flagged, score=1.0 if flagged else 0.0, reasons=normalized.reasons + heuristics)


_build_lock = threading.Lock()


def get_injection_detector() -> InjectionDetector:
    with _build_lock:
        return _detector()


@lru_cache(maxsize=1)
def _detector() -> InjectionDetector:
    from supportbot.llm.embeddings import local_minilm

    artifact = json.loads(ARTIFACT.read_text())
    model = local_minilm()
    if artifact["embedding_model"] != model.model_name:
        raise RuntimeError(f"{ARTIFACT.name} was trained on {artifact['embedding_model']}, not {model.model_name}")
    return InjectionDetector(artifact=artifact, embed=model.embed)
