"""The PII vault: originals of redacted values, encrypted per conversation, with a retention period.

Readers: the action layer at call time (a tool may need the real address the customer typed),
the customer's own widget connection, and staff holding guardrails.reveal_pii (audited). The
cipher is Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; the key is PII_VAULT_KEY, or
derived from SECRET_KEY when unset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import timedelta
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from guardrails.models import PiiVaultEntry

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*[A-Z])_(\d{1,5})>")


@lru_cache(maxsize=1)
def _keys() -> tuple[Fernet, bytes]:
    if settings.PII_VAULT_KEY:
        fernet_key = settings.PII_VAULT_KEY.encode()
    else:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"supportbot pii vault").derive(
            settings.SECRET_KEY.encode()
        )
        fernet_key = base64.urlsafe_b64encode(derived)
    digest_key = hashlib.sha256(b"supportbot pii digest:" + fernet_key).digest()
    return Fernet(fernet_key), digest_key


def _normalized(entity_type: str, value: str) -> str:
    compact = " ".join(value.split()).casefold()
    if entity_type in {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN"}:
        compact = re.sub(r"[^0-9a-z+]", "", compact)
    return compact


def _digest(conversation_id: int, entity_type: str, value: str) -> str:
    message = f"{conversation_id}:{entity_type}:{_normalized(entity_type, value)}".encode()
    return hmac.new(_keys()[1], message, hashlib.sha256).hexdigest()


def vault_placeholders_assign(*, conversation_id: int, values: list[tuple[str, str]]) -> list[str]:
    """The placeholder of each (entity_type, value): the existing one for a value seen before in
    this conversation, else the next number of its type (`<EMAIL_ADDRESS_2>`)."""
    if not values:
        return []
    fernet, _ = _keys()
    digests = [_digest(conversation_id, kind, value) for kind, value in values]
    expires_at = timezone.now() + timedelta(days=settings.PII_RETENTION_DAYS)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                known = dict(PiiVaultEntry.objects.filter(conversation_id=conversation_id, digest__in=digests)
                             .values_list("digest", "placeholder"))
                counts: dict[str, int] = {}
                placeholders = []
                for (kind, value), digest in zip(values, digests):
                    if digest not in known:
                        if kind not in counts:
                            counts[kind] = PiiVaultEntry.objects.filter(conversation_id=conversation_id,
                                                                        entity_type=kind).count()
                        counts[kind] += 1
                        placeholder = f"<{kind}_{counts[kind]}>"
                        PiiVaultEntry.objects.create(
                            conversation_id=conversation_id, placeholder=placeholder, entity_type=kind, digest=digest,
                            ciphertext=fernet.encrypt(value.encode()), expires_at=expires_at,
                        )
                        known[digest] = placeholder
                    placeholders.append(known[digest])
                return placeholders
        except IntegrityError as error:
            if "pii_unique" not in str(error):
                raise
            # Two messages of one conversation redacted at once took the same number: read again.
            continue
    raise RuntimeError(f"could not assign PII placeholders for conversation {conversation_id}")


def vault_values(*, conversation_id: int, placeholders: set[str] | None = None) -> dict[str, str]:
    """placeholder -> original value, for the readers listed in the module docstring only."""
    fernet, _ = _keys()
    entries = PiiVaultEntry.objects.filter(conversation_id=conversation_id, expires_at__gt=timezone.now())
    if placeholders is not None:
        entries = entries.filter(placeholder__in=placeholders)
    values = {}
    for placeholder, ciphertext in entries.values_list("placeholder", "ciphertext"):
        try:
            values[placeholder] = fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken:
            continue  # encrypted under a retired key: stays a placeholder
    return values


def placeholders_in(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text)}


def text_rehydrate(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(0), match.group(0)), text)


def frame_placeholders(frame: dict) -> set[str]:
    """The placeholders a `message` or `delta` frame shows: in its text and its action card."""
    action = frame.get("action") or {}
    return placeholders_in(frame.get("text") or "") | placeholders_in(action.get("summary") or "")


def frame_rehydrate(frame: dict, values: dict[str, str]) -> dict:
    """A copy of the frame with the given placeholders resolved (for the customer's own socket)."""
    rehydrated = {**frame, "text": text_rehydrate(frame.get("text") or "", values)}
    if frame.get("action"):
        rehydrated["action"] = {**frame["action"], "summary": text_rehydrate(frame["action"].get("summary") or "", values)}
    return rehydrated


def vault_purge_expired(*, now=None) -> int:
    deleted, _ = PiiVaultEntry.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
