"""The customer's language from what they write, offline: py3langid's model ships inside the
package (no download), restricted to the languages we support.

Short messages ("ok", "SB-100042", "hola") carry too little signal: below MIN_LETTERS letters, or
below MIN_CONFIDENCE, nothing is detected and the caller keeps the widget's language. Both
thresholds were chosen on the dev split of conversations/lib/language_devset.jsonl; the test split
is reported beside it (`benchmarks/languages.py`; docs/performance.md, "Languages").
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from conversations.lib.languages import supported_languages

MIN_LETTERS = 12
MIN_CONFIDENCE = 0.9

# Placeholders of redacted values (<EMAIL_ADDRESS_1>), order numbers, URLs: language-neutral noise.
_NEUTRAL = re.compile(r"<[A-Z_]+_\d+>|\b[A-Z]{2,}-\d+\b|https?://\S+|\S+@\S+")

_lock = threading.Lock()
_identifier = None


@dataclass(frozen=True)
class Detection:
    language: str | None  # None: too short or too unsure; keep the language we had
    confidence: float
    letters: int


def _model():
    global _identifier
    with _lock:
        if _identifier is None:
            # Imported here: loading the model takes about a second, and only the bot's turns need it.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(supported_languages())
            _identifier = identifier
    return _identifier


def language_detect(*, text: str, min_letters: int = MIN_LETTERS, min_confidence: float = MIN_CONFIDENCE) -> Detection:
    cleaned = _NEUTRAL.sub(" ", text)
    letters = sum(ch.isalpha() for ch in cleaned)
    if letters < min_letters:
        return Detection(None, 0.0, letters)
    language, confidence = _model().classify(cleaned)
    confidence = float(confidence)
    return Detection(language if confidence >= min_confidence else None, confidence, letters)
