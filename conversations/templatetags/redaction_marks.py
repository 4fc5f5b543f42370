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
# become markup. Only the kinds redaction writes (guardrails.pii.engine.REDACTED_TYPES; a test
# keeps the two in step): a customer typing "<ORDER_1>" gets no "hidden value" mark.
_LABELS = {
    "PERSON": "name",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "STREET_ADDRESS": "address",
    "CREDIT_CARD": "card number",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP address",
    "DRIVER_LICENSE": "driver's license",
    "PASSPORT": "passport",
    "NATIONAL_ID": "ID number",
}
_ESCAPED_PLACEHOLDER = re.compile(rf"&lt;({'|'.join(_LABELS)})_(\d+)&gt;")


def _mark(match: re.Match[str]) -> str:
    # The title holds the placeholder as stored, to find the value in the admin's PII vault.
    return (
        f'<span class="pii-mark" title="{match.group(0)} hidden, kept encrypted in the vault">'
        f"{_LABELS[match.group(1)]} {match.group(2)}</span>"
    )


@register.filter
def redaction_marks(value: object) -> SafeString:
    # Escaped even under {% autoescape off %}: the output is marked safe, and the text is redacted
    # customer or model text, never markup. Safe input (already escaped) is left as it is.
    text = str(conditional_escape(str(value)))
    return mark_safe(_ESCAPED_PLACEHOLDER.sub(_mark, text))  # noqa: S308  # escaped above; labels are ours
