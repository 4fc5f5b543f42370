"""Normalization before injection checks: attackers hide instructions from pattern matching with
look-alike letters, invisible characters, encodings and comments. Each trick found is a reason
of its own; the normalized text (with decoded payloads appended) is what the checks then read."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from dataclasses import dataclass, field

# Zero-width characters, bidi controls, soft hyphen, word joiner, BOM.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Cyrillic and Greek letters that render like Latin ones (NFKC leaves them alone).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
    "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u", "А": "A", "В": "B", "Е": "E",
    "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "τ": "t", "υ": "u", "Α": "A", "Β": "B",
    "Ε": "E", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "Ζ": "Z",
})
_COMMENT = re.compile(r"<!--(.*?)-->|\[//\]: # \((.*?)\)", re.DOTALL)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_ROT13_MARKERS = re.compile(r"\b(ignore|instructions|system prompt|disregard|pretend|jailbreak)\b", re.IGNORECASE)


@dataclass
class Normalized:
    text: str
    reasons: list[str] = field(default_factory=list)


def normalize(text: str) -> Normalized:
    reasons: list[str] = []
    if _INVISIBLE.search(text):
        reasons.append("invisible_characters")
        text = _INVISIBLE.sub("", text)
    folded = unicodedata.normalize("NFKC", text)
    confusable = folded.translate(_CONFUSABLES)
    if confusable != folded and re.search(r"[A-Za-z]", folded):
        reasons.append("confusable_characters")
    text = confusable
    extra: list[str] = []
    for match in _COMMENT.finditer(text):
        hidden = (match.group(1) or match.group(2) or "").strip()
        if hidden:
            reasons.append("hidden_comment")
            extra.append(hidden)
    for match in _BASE64.finditer(text):
        decoded = _decoded_base64(match.group(0))
        if decoded:
            reasons.append("base64_payload")
            extra.append(decoded)
    rotated = codecs.decode(text, "rot13")
    if _ROT13_MARKERS.search(rotated) and not _ROT13_MARKERS.search(text):
        reasons.append("rot13_payload")
        extra.append(rotated)
    return Normalized(text="\n".join([text, *extra]), reasons=sorted(set(reasons)))


def _decoded_base64(blob: str) -> str | None:
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
    letters = sum(ch.isalpha() for ch in decoded)
    if printable < 0.95 * len(decoded) or letters < 0.5 * len(decoded) or " " not in decoded:
        return None
    return decoded
