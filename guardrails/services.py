"""The guardrails the bot and the inbox call: one place for inbound, untrusted-content and
outbound checks, and for recording what they did."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from guardrails.injection.detector import InjectionVerdict, get_injection_detector, untrusted_text_check
from guardrails.models import GuardrailEvent
from guardrails.pii.engine import PiiSpan, get_detector
from guardrails.pii.vault import vault_placeholders_assign

# Structured fields of the commerce API that are personal data, and their placeholder types.
_PII_FIELDS = {
    "name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "address": "STREET_ADDRESS",
    "shipping_address": "STREET_ADDRESS",
}
_PRODUCT_LISTS = {"items"}  # docs/commerce-api.md: an order's lines
_CAPITALISED = re.compile(r"[A-Z][a-z]")
# Values whose shape cannot hold personal data, not worth a detector call: dates and times,
# amounts, lower-case words (statuses) and short upper-case codes (currencies, carriers).
_PLAIN = re.compile(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?|-?\d{1,9}\.\d{2}|[a-z_]{1,32}|[A-Z]{2,5}")
UNTRUSTED_REMOVED = "[removed: this text looked like instructions to the assistant]"


def guardrail_event_record(
    *,
    kind: str,
    action: str,
    conversation_id: int | None = None,
    site_id: int | None = None,
    actor: Any = None,
    detail: dict | None = None,
) -> GuardrailEvent:
    return GuardrailEvent.objects.create(
        kind=kind, action=action, conversation_id=conversation_id, site_id=site_id, actor=actor, detail=detail or {}
    )


def inbound_message_check(
    *, conversation_id: int, site_id: int, text: str, vector: list[float] | None = None
) -> InjectionVerdict:
    """Injection/jailbreak check of a customer's (already redacted) message; a flag is recorded."""
    verdict = get_injection_detector().check(text, vector=vector)
    if verdict.flagged:
        guardrail_event_record(
            kind=GuardrailEvent.Kind.INJECTION,
            action=GuardrailEvent.Action.REFUSED,
            conversation_id=conversation_id,
            site_id=site_id,
            detail={"score": round(verdict.score, 3), "reasons": verdict.reasons, "text": text[:500]},
        )
    return verdict


def tool_result_redact(*, conversation_id: int, data: Any) -> Any:
    """A commerce API answer made safe for the model and the database. Every string leaf is
    checked, whatever its key: a field the contract names as personal (`_PII_FIELDS`) becomes one
    typed placeholder whole, any other string is scanned like customer text, so a field the API
    adds later (a gift note, a contact email) cannot carry personal data past us. Long values that
    read like instructions to the assistant are removed."""
    leaves: dict[int, tuple[str, list[PiiSpan]]] = {}  # id of the leaf's slot -> (text, spans)
    removed: set[int] = set()
    scanned: dict[tuple[str, bool], list[PiiSpan]] = {}

    def spans_of(text: str, *, product: bool) -> list[PiiSpan]:
        # The full detector (spaCy NER) only where a name could be: a capitalised word outside an
        # order line's product name ("Stormshell rain jacket" is no person). Ids, statuses,
        # amounts and dates get the pattern recognizers (emails, phones, cards, addresses...).
        if _PLAIN.fullmatch(text) or any(re.fullmatch(p, text) for p in settings.PII_ALLOW_PATTERNS):
            return []  # PII_ALLOW_PATTERNS: order and tracking numbers, SKUs
        full = not product and _CAPITALISED.search(text) is not None
        if (text, full) not in scanned:
            detector = get_detector()
            scanned[(text, full)] = detector.detect(text) if full else detector.detect_patterns(text)
        return scanned[(text, full)]

    def visit(node: Any, slot: list[int], key: str | None, in_items: bool, personal: str | None) -> None:
        product_name = in_items and key == "name"
        # Everything under a personal field is personal, also when the API sends it structured.
        personal = personal or (None if product_name else _PII_FIELDS.get(key or ""))
        if isinstance(node, dict):
            for child_key, value in node.items():
                visit(value, slot, child_key, in_items or child_key in _PRODUCT_LISTS, personal)
        elif isinstance(node, list):
            for item in node:
                visit(item, slot, key, in_items, personal)
        elif isinstance(node, str) and node.strip():
            n = slot[0] = slot[0] + 1
            if personal:
                leaves[n] = (node, [PiiSpan(personal, 0, len(node))])
            elif len(node) > 24 and untrusted_text_check(node).flagged:
                removed.add(n)
            else:
                leaves[n] = (node, spans_of(node, product=product_name))

    visit(data, [0], None, False, None)
    values = [(span.type, text[span.start : span.end]) for text, spans in leaves.values() for span in spans]
    placeholders = iter(vault_placeholders_assign(conversation_id=conversation_id, values=values) if values else [])
    replaced: dict[int, str] = {}
    for n, (text, spans) in leaves.items():
        if spans:
            pieces, cursor = [], 0
            for span in spans:
                pieces += [text[cursor : span.start], next(placeholders)]
                cursor = span.end
            replaced[n] = "".join(pieces + [text[cursor:]])
    for _ in removed:
        guardrail_event_record(
            kind=GuardrailEvent.Kind.CONTEXT_DROPPED,
            action=GuardrailEvent.Action.DROPPED,
            conversation_id=conversation_id,
            detail={"source": "tool_result"},
        )

    def rebuild(node: Any, slot: list[int]) -> Any:
        if isinstance(node, dict):
            return {key: rebuild(value, slot) for key, value in node.items()}
        if isinstance(node, list):
            return [rebuild(item, slot) for item in node]
        if isinstance(node, str) and node.strip():
            n = slot[0] = slot[0] + 1
            return UNTRUSTED_REMOVED if n in removed else replaced.get(n, node)
        return node

    return rebuild(data, [0])
