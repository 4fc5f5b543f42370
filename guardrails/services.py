"""The guardrails the bot and the inbox call: one place for inbound, untrusted-content and
outbound checks, and for recording what they did."""

from __future__ import annotations

from typing import Any

from guardrails.injection.detector import InjectionVerdict, get_injection_detector, untrusted_text_check
from guardrails.models import GuardrailEvent
from guardrails.pii.vault import vault_placeholders_assign

# Structured fields of the commerce API that are personal data, and their placeholder types.
_PII_FIELDS = {"name": "PERSON", "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "address": "STREET_ADDRESS",
               "shipping_address": "STREET_ADDRESS"}
_PRODUCT_LISTS = {"items"}  # docs/commerce-api.md: an order's lines
UNTRUSTED_REMOVED = "[removed: this text looked like instructions to the assistant]"


def guardrail_event_record(*, kind: str, action: str, conversation_id: int | None = None, site_id: int | None = None,
                           actor: Any = None, detail: dict | None = None) -> GuardrailEvent:
    return GuardrailEvent.objects.create(kind=kind, action=action, conversation_id=conversation_id, site_id=site_id,
                                         actor=actor, detail=detail or {})


def inbound_message_check(*, conversation_id: int, site_id: int, text: str,
                          vector: list[float] | None = None) -> InjectionVerdict:
    """Injection/jailbreak check of a customer's (already redacted) message; a flag is recorded."""
    verdict = get_injection_detector().check(text, vector=vector)
    if verdict.flagged:
        guardrail_event_record(
            kind=GuardrailEvent.Kind.INJECTION, action=GuardrailEvent.Action.REFUSED, conversation_id=conversation_id,
            site_id=site_id, detail={"score": round(verdict.score, 3), "reasons": verdict.reasons, "text": text[:500]},
        )
    return verdict


def tool_result_redact(*, conversation_id: int, data: Any) -> Any:
    """A commerce API answer made safe for the model and the database: personal fields become
    vault placeholders, and long free-text values that look like instructions are removed."""
    values: list[tuple[str, str]] = []

    def personal(key: str, value: Any, in_items: bool) -> bool:
        # An order line's "name" is a product ("Trailrunner boots"), not a person.
        return key in _PII_FIELDS and not (in_items and key == "name") and isinstance(value, str) and bool(value.strip())

    def collect(node: Any, in_items: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if personal(key, value, in_items):
                    values.append((_PII_FIELDS[key], value))
                else:
                    collect(value, in_items or key in _PRODUCT_LISTS)
        elif isinstance(node, list):
            for item in node:
                collect(item, in_items)

    collect(data)
    placeholders = dict(zip(values, vault_placeholders_assign(conversation_id=conversation_id, values=values)))

    def rebuild(node: Any, in_items: bool = False) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if personal(key, value, in_items):
                    out[key] = placeholders[(_PII_FIELDS[key], value)]
                else:
                    out[key] = rebuild(value, in_items or key in _PRODUCT_LISTS)
            return out
        if isinstance(node, list):
            return [rebuild(item, in_items) for item in node]
        if isinstance(node, str) and len(node) > 24 and untrusted_text_check(node).flagged:
            guardrail_event_record(kind=GuardrailEvent.Kind.CONTEXT_DROPPED, action=GuardrailEvent.Action.DROPPED,
                                   conversation_id=conversation_id, detail={"source": "tool_result"})
            return UNTRUSTED_REMOVED
        return node

    return rebuild(data)
