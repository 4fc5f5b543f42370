"""Identity document numbers: driver's licences, passports, national ids (national insurance,
social insurance, tax codes, BSN, DNI, Aadhaar and the like).

Their shapes are those of order numbers, SKUs and tracking numbers ("D1234567" is a Californian
licence and an order number alike), so the shape alone proves nothing: Presidio's own US licence
recognizer flagged order numbers and was turned off for that. Here a number counts only when a
context word for its document stands right before it ("driver's license number is D1234567",
"passport no. X1234567", "my BSN: 123456782"), with no other identifier's word in between
("licence ... for order SB-100042" keeps the order number).

They are Presidio PatternRecognizers with the gate added in `analyze`; the context words are also
passed to Presidio, whose context enhancer can only raise the score.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

# A document number: up to five groups of letters and digits joined by a space or a dash, each
# group starting with at most six letters before a digit; one capital letter may close it
# ("QQ 12 34 56 C"). Six characters and two digits at least (`validate_result`).
_NUMBER = (
    r"(?<![\w-])(?:(?-i:[A-Z]{1,2})[ -])?(?=[A-Za-z]{0,7}\d)[A-Za-z\d]{1,16}"
    r"(?:[ -](?=[A-Za-z]{0,2}\d)[A-Za-z\d]{1,16}){0,5}(?:[ -](?-i:[A-Z]))?(?![\w-])"
)
# Words that name another identifier: a number after them is not the document's.
_OTHER_IDENTIFIER = re.compile(
    r"\b(?:orders?|tracking|sku|invoice|item|ref|reference|confirmation|phone|mobile|call|iban|parcel|shipment|"
    r"account|exp(?:ires|iry|iration)?|valid|issued|dated?|zip|postcode|postal)\b",
    re.IGNORECASE,
)
# How far before the number its context may stand, and what may lie in between ("number is", "no.:").
_WINDOW = 40
_SENTENCE_END = re.compile(r"[!?]|\.(?:\s+[A-Z]|\s*\n)|\n\s*\n")

DOCUMENT_CONTEXT = {
    "DRIVER_LICENSE": (
        r"driv(?:er'?s?|ing|ers)[ -]?licen[cs]es?|driver'?s? permit|\bD\.?L\.?\b|licen[cs]e (?:no|nr|number|num|id|#)|"
        r"\blic\.? ?(?:no|#)|\bDLN\b|führerschein|permis de conduire|carn[eé] de conducir"
    ),
    "PASSPORT": r"passports?|\bpass(?:port)? no\b|reisepass|passeport|pasaporte",
    "NATIONAL_ID": (
        r"national (?:insurance|id(?:entity)?|identification|registration)|\bN\.?I\.? ?(?:no|nr|number|#)|\bNINO\b|"
        r"social (?:insurance|security)|\bSIN\b|\bSSN\b|\bDNI\b|\bNIE\b|\bNIF\b|\bBSN\b|burgerservicenummer|"
        r"codice fiscale|tax (?:id|code|number|no)|\bTIN\b|\bITIN\b|personnummer|\bCPR\b|\bPESEL\b|aadhaa?r|"
        r"\bPAN\b|\bCURP\b|\bRUT\b|\bCPF\b|\bNIN\b|s[ée]curit[ée] sociale|\bINSEE\b|identity (?:card|number|document)|"
        r"\bid[ -]?card|\bid (?:no|nr|number|#)|\bID\b|personal (?:id|identification|number|code)|citizen (?:id|card)|"
        r"resident (?:id|permit)|steuer-?id|personalausweis|identification number|henkilötunnus|rodné číslo"
    ),
}


class ContextGatedDocumentRecognizer(PatternRecognizer):
    """A document number only where its context words precede it (see the module docstring)."""

    def __init__(self, *, entity: str) -> None:
        self.gate = re.compile(DOCUMENT_CONTEXT[entity], re.IGNORECASE)
        super().__init__(
            supported_entity=entity,
            name=f"{entity.title().replace('_', '')}Recognizer",
            supported_language="en",
            patterns=[Pattern(name=f"{entity.lower()} number", regex=_NUMBER, score=0.85)],
            context=[w for w in re.split(r"\W+", DOCUMENT_CONTEXT[entity].lower()) if len(w) > 2],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = sum(c.isdigit() for c in pattern_text)
        # Washington's licences ("WDLG2GXLDHXK") may hold a single digit; the context gate, not
        # the digits, is what tells them from words.
        return None if (2 <= digits or (digits and len(pattern_text) >= 9)) and 6 <= len(pattern_text) <= 30 else False

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # noqa: ANN001 (Presidio's signature)
        results = super().analyze(text, entities, nlp_artifacts, regex_flags) or []
        kept = []
        for result in results:
            # The number pattern may take a short cue as its letter prefix ("my OH DL VZ132156"):
            # the cue is context, not the number.
            prefix = re.match(r"([A-Za-z]{1,2})[ -]", text[result.start : result.end])
            if prefix and self.gate.fullmatch(prefix.group(1)):
                result.start += prefix.end()
            if self._has_context(text, result.start) and self.validate_result(text[result.start : result.end]) is None:
                kept.append(result)
        return kept

    def _has_context(self, text: str, start: int) -> bool:
        window = text[max(0, start - _WINDOW) : start]
        cues = list(self.gate.finditer(window))
        if not cues:
            return False
        between = window[cues[-1].end() :]
        return (
            not _OTHER_IDENTIFIER.search(between)
            and not _SENTENCE_END.search(between)
            and not re.search(r"\d", between)
        )


def document_recognizers() -> list[PatternRecognizer]:
    return [ContextGatedDocumentRecognizer(entity=entity) for entity in DOCUMENT_CONTEXT]
