"""Checks on a bot reply before it becomes final. A failing check replaces the reply with a safe
message (the stored `message` frame supersedes the streamed deltas) and is recorded as an event.

- no personal value the customer did not give: raw PII in the reply is allowed only when it
  appears verbatim in this turn's sources (a support phone number from an article); placeholders
  only when they belong to this conversation;
- citations only to sources retrieved for this turn;
- no system-prompt leakage: the canary token, or a long verbatim run of the system prompt;
- a length limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy

from guardrails.pii.engine import PiiSpan, get_detector
from guardrails.pii.vault import placeholders_in

# Lazy: rendered in the customer's language (the bot turn runs under it).
SAFE_REPLY = gettext_lazy(
    "Sorry, I can't share that answer. Could you rephrase your question, or shall I get a person to help?"
)
_CITATION = re.compile(r"\[(\d{1,2})\]")


@dataclass
class OutputVerdict:
    text: str
    ok: bool
    reasons: list[str] = field(default_factory=list)
    cited_sources: list[int] = field(default_factory=list)  # 1-based indexes into the turn's sources


def _shares_long_run(text: str, secret: str, words: int = 12) -> bool:
    secret_words = secret.split()
    reply = " ".join(text.split())
    return any(
        " ".join(secret_words[i : i + words]) in reply for i in range(0, max(0, len(secret_words) - words + 1), 3)
    )


def output_check(
    *,
    text: str,
    source_count: int,
    context_text: str,
    conversation_placeholders: set[str],
    canary: str,
    system_prompt: str,
    max_chars: int,
    pattern_spans: list[PiiSpan] | None = None,
) -> OutputVerdict:
    """`pattern_spans`: the reply's PiiDetector.detect_patterns spans when the caller already has
    them (the bot turn gets them from the model workers, guardrails.redaction.text_patterns_async);
    otherwise they are computed here."""
    reasons = []
    if canary and canary in text:
        reasons.append("canary_leaked")
    if system_prompt and _shares_long_run(text, system_prompt):
        reasons.append("system_prompt_leaked")
    foreign = placeholders_in(text) - conversation_placeholders
    if foreign:
        reasons.append("unknown_placeholder")
    for span in get_detector().detect_patterns(text) if pattern_spans is None else pattern_spans:
        value = text[span.start : span.end]
        if value not in context_text and not placeholders_in(value):
            reasons.append(f"pii_{span.type.lower()}")
    cited = sorted({int(n) for n in _CITATION.findall(text)})
    if any(n < 1 or n > source_count for n in cited):
        reasons.append("citation_out_of_range")
    if reasons:
        return OutputVerdict(text=str(SAFE_REPLY), ok=False, reasons=sorted(set(reasons)))
    if len(text) > max_chars:
        cut = text[:max_chars]
        cut = cut[: max(cut.rfind(". "), cut.rfind("\n"), max_chars // 2) + 1].rstrip()
        return OutputVerdict(text=cut + " …", ok=True, reasons=["truncated"], cited_sources=cited)
    return OutputVerdict(text=text, ok=True, cited_sources=cited)
