"""Vault placeholders shown as what they stand for. Agents read redacted text (`<EMAIL_ADDRESS_1>`);
raw tags read like a rendering fault, so each becomes a labelled mark ("email 1") that says the
value is held encrypted. Revealing it stays the audited admin action (guardrails.reveal_pii)."""

from __future__ import annotations

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Matched after escaping, so the tag's brackets are entities and nothing the customer typed can
# become markup.
_ESCAPED_PLACEHOLDER = re.compile(r"&lt;([A-Z][A-Z_]*?)_(\d+)&gt;")
_LABELS = {
    "PERSON": "name",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "STREET_ADDRESS": "address",
    "CREDIT_CARD": "card number",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "US_DRIVER_LICENSE": "driver's license",
    "DRIVER_LICENSE": "driver's license",
    "US_PASSPORT": "passport",
    "NATIONAL_ID": "ID number",
    "IP_ADDRESS": "IP address",
}


def _mark(match: re.Match[str]) -> str:
    kind, number = match.group(1), match.group(2)
    label = _LABELS.get(kind, kind.lower().replace("_", " "))
    return (
        f'<span class="pii-mark" title="{kind} {number}: hidden, kept encrypted in the vault">{label} {number}</span>'
    )


@register.filter(needs_autoescape=True)
def redaction_marks(value: object, autoescape: bool = True) -> SafeString:
    text = str(conditional_escape(str(value)) if autoescape else value)
    return mark_safe(_ESCAPED_PLACEHOLDER.sub(_mark, text))  # noqa: S308  # escaped above; labels are ours
