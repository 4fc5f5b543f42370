"""Redaction at ingress: every customer, agent and tool text passes here before it is stored,
logged, embedded or sent to a model. Personal values become typed, numbered placeholders
(`<EMAIL_ADDRESS_1>`, the same value always the same placeholder within a conversation) and the
originals go to the encrypted vault."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings

from guardrails.pii.engine import PiiSpan, get_detector
from guardrails.pii.pool import DetectionPool, DetectionUnavailable, PoolConfig, detection_pool_start
from guardrails.pii.vault import vault_placeholders_assign

# Detection of one batch takes milliseconds, of the largest allowed message well under a second;
# a worker that has not answered in this long is stuck, and the message is refused, not stored raw.
DETECTION_TIMEOUT_SECONDS = 30.0


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


def redaction_pool_start() -> DetectionPool | None:
    """Web processes detect in PII_REDACTION_PROCESSES worker processes (guardrails/pii/pool.py);
    None when that is 0 (detection runs in the calling thread)."""
    if settings.PII_REDACTION_PROCESSES <= 0:
        return None
    return detection_pool_start(
        PoolConfig(
            processes=settings.PII_REDACTION_PROCESSES,
            spacy_model=settings.PII_SPACY_MODEL,
            score_threshold=settings.PII_SCORE_THRESHOLD,
            allow_patterns=tuple(settings.PII_ALLOW_PATTERNS),
        )
    )


def text_detect(*, text: str) -> list[PiiSpan]:
    """In the calling thread. The chat socket's customer messages, the bulk of all text, go through
    text_detect_async instead; the rarer texts that come here (agent replies, notes, ratings, tool
    texts) keep the in-process detector, whose latency timing-sensitive paths were tuned on."""
    return get_detector().detect(text)


async def text_detect_async(*, text: str) -> list[PiiSpan]:
    """For socket consumers: waits on the pool without holding a thread, so concurrent messages
    batch together and a slow one blocks neither the event loop nor the thread pool."""
    pool = redaction_pool_start()
    if pool is None:
        return await sync_to_async(get_detector().detect, thread_sensitive=False)(text)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(pool.submit(text)), DETECTION_TIMEOUT_SECONDS)
    except TimeoutError:
        raise DetectionUnavailable(f"PII detection did not answer within {DETECTION_TIMEOUT_SECONDS} s") from None


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
