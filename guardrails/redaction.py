"""Redaction at ingress: every customer, agent and tool text passes here before it is stored,
logged, embedded or sent to a model. Personal values become typed, numbered placeholders
(`<EMAIL_ADDRESS_1>`, the same value always the same placeholder within a conversation) and the
originals go to the encrypted vault."""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.pii.engine import PiiSpan, get_detector
from guardrails.pii.vault import vault_placeholders_assign


@dataclass(frozen=True)
class Redaction:
    text: str
    entities: list[PiiSpan] = field(default_factory=list)  # offsets into the original text

    @property
    def entity_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for span in self.entities:
            counts[span.type] = counts.get(span.type, 0) + 1
        return counts


def text_detect(*, text: str) -> list[PiiSpan]:
    return get_detector().detect(text)


def text_redact(*, conversation_id: int, text: str, keep: frozenset[str] = frozenset()) -> Redaction:
    """`keep`: values that are not the customer's personal data in this text (an agent's own name
    in the agent's reply), compared case-insensitively."""
    kept = {value.casefold() for value in keep if value}
    spans = [s for s in text_detect(text=text) if text[s.start:s.end].casefold() not in kept]
    if not spans:
        return Redaction(text=text)
    placeholders = vault_placeholders_assign(
        conversation_id=conversation_id, values=[(s.type, text[s.start:s.end]) for s in spans]
    )
    pieces, cursor = [], 0
    for span, placeholder in zip(spans, placeholders):
        pieces += [text[cursor:span.start], placeholder]
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction(text="".join(pieces), entities=spans)


def text_redact_anonymously(*, text: str) -> Redaction:
    """Redaction with no conversation (and no vault): typed placeholders numbered within the text."""
    spans = text_detect(text=text)
    pieces, cursor, numbers, seen = [], 0, {}, {}
    for span in spans:
        value = text[span.start:span.end]
        if (span.type, value) not in seen:
            numbers[span.type] = numbers.get(span.type, 0) + 1
            seen[(span.type, value)] = f"<{span.type}_{numbers[span.type]}>"
        pieces += [text[cursor:span.start], seen[(span.type, value)]]
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction(text="".join(pieces), entities=spans)
