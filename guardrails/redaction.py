"""Redaction at ingress: every customer, agent and tool text passes here before it is stored,
logged, embedded or sent to a model. Personal values become typed, numbered placeholders
(`<EMAIL_ADDRESS_1>`, the same value always the same placeholder within a conversation) and the
originals go to the encrypted vault."""

from __future__ import annotations

from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from guardrails.pii.engine import PiiSpan, get_detector
from guardrails.pii.pool import detect_batch, model_workers_start, patterns_batch, spans_from
from guardrails.pii.vault import vault_placeholders_assign
from supportbot.llm.workers import workers_call


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
    """In the calling thread. The chat socket's customer messages, the bulk of all text, go through
    text_detect_async instead; the rarer texts that come here (agent replies, notes, ratings, tool
    texts) keep the in-process detector, whose latency timing-sensitive paths were tuned on."""
    return get_detector().detect(text)


async def text_detect_async(*, text: str) -> list[PiiSpan]:
    """For socket consumers: waits on the model workers (guardrails/pii/pool.py) without holding a
    thread, so concurrent messages batch together and a slow one blocks neither the event loop
    nor the thread pool. ModelWorkersUnavailable if a worker dies or does not answer in time."""
    pool = model_workers_start()
    if pool is None:
        return await sync_to_async(get_detector().detect, thread_sensitive=False)(text)
    return spans_from(await workers_call(pool, detect_batch, text))


async def text_patterns_async(*, text: str) -> list[PiiSpan]:
    """The pattern recognizers only (PiiDetector.detect_patterns), for the bot's reply check: in
    the model workers like text_detect_async, else on the thread pool."""
    pool = model_workers_start()
    if pool is None:
        return await sync_to_async(get_detector().detect_patterns, thread_sensitive=False)(text)
    return spans_from(await workers_call(pool, patterns_batch, text))


def text_redact(
    *, conversation_id: int, text: str, keep: frozenset[str] = frozenset(), detected: list[PiiSpan] | None = None
) -> Redaction:
    """`keep`: values that are not the customer's personal data in this text (an agent's own name
    in the agent's reply), compared case-insensitively. `detected`: the text's spans when the
    caller already ran detection (text_detect_async)."""
    kept = {value.casefold() for value in keep if value}
    spans = text_detect(text=text) if detected is None else detected
    spans = [s for s in spans if text[s.start : s.end].casefold() not in kept]
    if not spans:
        return Redaction(text=text)
    placeholders = vault_placeholders_assign(
        conversation_id=conversation_id, values=[(s.type, text[s.start : s.end]) for s in spans]
    )
    pieces, cursor = [], 0
    for span, placeholder in zip(spans, placeholders):
        pieces += [text[cursor : span.start], placeholder]
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction(text="".join(pieces), entities=spans)


def text_redact_anonymously(*, text: str) -> Redaction:
    """Redaction with no conversation (and no vault): typed placeholders numbered within the text."""
    spans = text_detect(text=text)
    pieces, cursor = [], 0
    numbers: dict[str, int] = {}
    seen: dict[tuple[str, str], str] = {}
    for span in spans:
        value = text[span.start : span.end]
        if (span.type, value) not in seen:
            numbers[span.type] = numbers.get(span.type, 0) + 1
            seen[(span.type, value)] = f"<{span.type}_{numbers[span.type]}>"
        pieces += [text[cursor : span.start], seen[(span.type, value)]]
        cursor = span.end
    pieces.append(text[cursor:])
    return Redaction(text="".join(pieces), entities=spans)
