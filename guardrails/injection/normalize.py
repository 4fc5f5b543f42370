"""Normalization before injection checks: attackers hide instructions from pattern matching with
look-alike letters, invisible characters, encodings, leetspeak, letters split by spaces or dots,
reversed text and comments. Each trick found is a reason of its own; the normalized text (with the
decoded or re-joined views appended) is what the checks then read.

Every view is only appended when it reveals something the plain text does not show (a decoded
payload with words in it, a marker word that only appears once the text is re-joined), so an
ordinary message is checked as it was typed.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from dataclasses import dataclass, field

# Zero-width characters, bidi controls, soft hyphen, word joiner, BOM.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Combining marks left after NFKC composed what it could ("i" + dot above): decoration, not letters.
_STRAY_COMBINING = re.compile("[\u0300-\u036f\u20d0-\u20ff]")
# Cyrillic and Greek letters that render like Latin ones (NFKC leaves them alone).
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "ո": "n",
        "ս": "u",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "І": "I",
        "Ј": "J",
        "Ѕ": "S",
        "α": "a",
        "ο": "o",
        "ρ": "p",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "τ": "t",
        "υ": "u",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Χ": "X",
        "Υ": "Y",
        "Ζ": "Z",
    }
)
_COMMENT = re.compile(r"<!--(.*?)-->|\[//\]: # \((.*?)\)", re.DOTALL)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){10,}(?![0-9A-Fa-f])")
# Words that only an injection puts in a message hidden by rot13 or reversal.
_MARKERS = re.compile(
    r"\b(ignore|instructions|system prompt|disregard|pretend|jailbreak|forget|reveal|access granted|"
    r"you are now|no rules|your rules|pwned)\b",
    re.IGNORECASE,
)
# Leetspeak digits and symbols; "1" reads as "i" or "l", so both readings are tried.
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_LEET_TOKEN = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[0134578@$])[\w@$]{2,}(?![\w@$])|(?<!\w)[14](?!\w)")
# Single letters joined by separators ("i g n o r e", "i.g.n.o.r.e", "d_i_s"), or words cut into
# syllables ("ig-nore prev-ious"): re-joined with everything but the letters taken out.
_SPLIT_LETTERS = re.compile(r"(?:(?<![A-Za-z])[A-Za-z][ ._\-*|/]{1,3}){3,}[A-Za-z](?![A-Za-z])")
_SPLIT_KEYWORDS: tuple[str, ...] = (
    "instructions",
    "instruction",
    "disregard",
    "everything",
    "jailbreak",
    "directions",
    "guidelines",
    "previous",
    "granted",
    "reveal",
    "ignore",
    "system",
    "prompt",
    "access",
    "forget",
    "pretend",
    "restrictions",
    "rules",
    "your",
    "above",
    "all",
    "and",
    "say",
    "the",
    "you",
    "are",
    "now",
    "dan",
    "print",
    "output",
    "give",
    "coupon",
    "me",
    "no",
    "have",
    "pwned",
    "out",
    "put",
)
_SPLIT_KEYWORDS = tuple(sorted(_SPLIT_KEYWORDS, key=len, reverse=True))
_SPLIT_MARKERS = (
    "ignore",
    "disregard",
    "instruction",
    "systemprompt",
    "accessgranted",
    "jailbreak",
    "pwned",
    "yourrules",
    "norules",
    "forgetyour",
    "revealyour",
    "youarenow",
    "pretendyou",
)
_WORD_MARKERS = ("ignore", "disregard", "instruction", "jailbreak", "pwned")


@dataclass
class Normalized:
    text: str
    reasons: list[str] = field(default_factory=list)


def normalize(text: str) -> Normalized:
    reasons: list[str] = []
    if _INVISIBLE.search(text):
        reasons.append("invisible_characters")
        text = _INVISIBLE.sub("", text)
    unescaped = html.unescape(text)
    if unescaped != text and re.search(r"&#x?[0-9a-f]+;", text, re.IGNORECASE):
        reasons.append("html_entities")
    text = unescaped
    folded = _STRAY_COMBINING.sub("", unicodedata.normalize("NFKC", text))
    if folded != text and re.search(r"[^\x00-\x7f]", text) and _styled_letters(text):
        reasons.append("styled_letters")
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
        decoded = _readable(_decoded_base64(match.group(0)))
        if decoded:
            reasons.append("base64_payload")
            extra.append(decoded)
    for match in _HEX.finditer(text):
        decoded = _readable(_decoded_hex(match.group(0)))
        if decoded:
            reasons.append("hex_payload")
            extra.append(decoded)
    rotated = codecs.decode(text, "rot13")
    if _MARKERS.search(rotated) and not _MARKERS.search(text):
        reasons.append("rot13_payload")
        extra.append(rotated)
    reversed_text = text[::-1]
    if _MARKERS.search(reversed_text) and not _MARKERS.search(text):
        reasons.append("reversed_text")
        extra.append(reversed_text)
    leet = _leet_views(text)
    if leet:
        reasons.append("leetspeak")
        extra += leet
    rejoined = _rejoined_view(text)
    if rejoined:
        reasons.append("split_letters")
        extra.append(rejoined)
    return Normalized(text="\n".join([text, *extra]), reasons=sorted(set(reasons)))


def _styled_letters(text: str) -> bool:
    """Full-width, mathematical, circled letters: NFKC turns them into ASCII letters."""
    return any(unicodedata.normalize("NFKC", ch).isascii() and ch.isalpha() and not ch.isascii() for ch in text)


def _decoded_base64(blob: str) -> str | None:
    try:
        return base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _decoded_hex(blob: str) -> str | None:
    try:
        return bytes.fromhex(blob).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _readable(decoded: str | None) -> str | None:
    """Decoded bytes count as a hidden message only when they read like words."""
    if not decoded:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
    letters = sum(ch.isalpha() for ch in decoded)
    if printable < 0.95 * len(decoded) or letters < 0.5 * len(decoded) or " " not in decoded:
        return None
    return decoded


def _leet_views(text: str) -> list[str]:
    """Leetspeak readings of the message, when at least two words mix letters with leet digits
    (order numbers like SB-100042 are upper case or all digits, and are left alone)."""
    tokens = [m.group(0) for m in _LEET_TOKEN.finditer(text)]
    if len(tokens) < 2:
        return []
    views = []
    for table in (_LEET_I, _LEET_L):
        view = _LEET_TOKEN.sub(lambda m: m.group(0).translate(table), text)
        if view != text and view not in views:
            views.append(view)
    return views


def _rejoined_view(text: str) -> str | None:
    """Letters split apart, re-joined and cut back into words at a small vocabulary (a greedy
    segmenter, hand-written: it only has to read the words an attack needs)."""
    runs = [m.group(0) for m in _SPLIT_LETTERS.finditer(text)]
    if runs:
        squashed = " ".join(re.sub(r"[^a-z]", "", run.lower()) for run in runs)
    else:
        # Words cut into syllables: a marker that appears only once the words are joined.
        words = re.findall(r"[a-z]+", text.lower())
        squashed = "".join(words)
        if not any(marker in squashed and not any(marker in word for word in words) for marker in _WORD_MARKERS):
            return None
    if not any(marker in squashed.replace(" ", "") for marker in _SPLIT_MARKERS):
        return None
    out: list[str] = []
    for piece in squashed.split():
        i, unknown = 0, ""
        while i < len(piece):
            keyword = next((k for k in _SPLIT_KEYWORDS if piece.startswith(k, i)), None)
            if keyword is None:
                unknown += piece[i]
                i += 1
                continue
            out += [unknown] if unknown else []
            out.append(keyword)
            unknown, i = "", i + len(keyword)
        out += [unknown] if unknown else []
    return " ".join(out)
