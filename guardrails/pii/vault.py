"""The PII vault: originals of redacted values, encrypted per conversation, with a retention period.

Readers: the action layer at call time (a tool may need the real address the customer typed),
the customer's own widget connection, and staff holding guardrails.reveal_pii (audited). The
cipher is Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. PII_VAULT_KEY lists the keys,
newest first: MultiFernet encrypts with the first and decrypts with any, so a new key is put in
front and the old one stays listed until what it encrypted has expired (PII_RETENTION_DAYS) or
`vault_entries_rotate` has re-encrypted it. In demo mode, unset, the key is derived from SECRET_KEY.

Each entry also stores an HMAC digest of its value (to give a repeated value the same
placeholder). The digest key follows each encryption key, so lookups try every listed key's
digest: a value seen under the old key keeps its placeholder after a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import timedelta
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from guardrails.models import PiiVaultEntry

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*[A-Z])_(\d{1,5})>")


@lru_cache(maxsize=1)
def _keys() -> tuple[MultiFernet, tuple[bytes, ...]]:
    """The cipher and the digest keys, newest first (settings.PII_VAULT_KEYS' order)."""
    fernet_keys = [key.encode() for key in settings.PII_VAULT_KEYS]
    if not fernet_keys:  # demo mode only: the settings refuse to start without a key otherwise
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"supportbot pii vault").derive(
            settings.SECRET_KEY.encode()
        )
        fernet_keys = [base64.urlsafe_b64encode(derived)]
    digest_keys = tuple(hashlib.sha256(b"supportbot pii digest:" + key).digest() for key in fernet_keys)
    return MultiFernet([Fernet(key) for key in fernet_keys]), digest_keys


def _normalized(entity_type: str, value: str) -> str:
    compact = " ".join(value.split()).casefold()
    if entity_type in {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN"}:
        compact = re.sub(r"[^0-9a-z+]", "", compact)
    return compact


def _digest(key: bytes, conversation_id: int, entity_type: str, value: str) -> str:
    message = f"{conversation_id}:{entity_type}:{_normalized(entity_type, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _digests(conversation_id: int, entity_type: str, value: str) -> list[str]:
    """The value's digest under each listed key, the current key's first."""
    return [_digest(key, conversation_id, entity_type, value) for key in _keys()[1]]


def vault_placeholders_assign(*, conversation_id: int, values: list[tuple[str, str]]) -> list[str]:
    """The placeholder of each (entity_type, value): the existing one for a value seen before in
    this conversation, else the next number of its type (`<EMAIL_ADDRESS_2>`)."""
    if not values:
        return []
    fernet, _ = _keys()
    candidates = [_digests(conversation_id, kind, value) for kind, value in values]
    expires_at = timezone.now() + timedelta(days=settings.PII_RETENTION_DAYS)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                known = dict(
                    PiiVaultEntry.objects.filter(
                        conversation_id=conversation_id,
                        digest__in=[d for digests in candidates for d in digests],
                    ).values_list("digest", "placeholder")
                )
                counts: dict[str, int] = {}
                placeholders = []
                for (kind, value), digests in zip(values, candidates):
                    digest = next((d for d in digests if d in known), digests[0])
                    if digest not in known:
                        if kind not in counts:
                            counts[kind] = PiiVaultEntry.objects.filter(
                                conversation_id=conversation_id, entity_type=kind
                            ).count()
                        counts[kind] += 1
                        placeholder = f"<{kind}_{counts[kind]}>"
                        PiiVaultEntry.objects.create(
                            conversation_id=conversation_id,
                            placeholder=placeholder,
                            entity_type=kind,
                            digest=digest,
                            ciphertext=fernet.encrypt(value.encode()),
                            expires_at=expires_at,
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
        rehydrated["action"] = {
            **frame["action"],
            "summary": text_rehydrate(frame["action"].get("summary") or "", values),
        }
    return rehydrated


def vault_entries_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt (and re-digest) every entry under the current key, so the older keys can be
    dropped from PII_VAULT_KEY before PII_RETENTION_DAYS have passed. Entries already under the
    current key are left alone; returns how many changed."""
    fernet, digest_keys = _keys()
    current_key = digest_keys[0]
    rotated = 0
    last_id = 0
    while True:
        with transaction.atomic():
            entries = list(PiiVaultEntry.objects.select_for_update().filter(pk__gt=last_id).order_by("pk")[:batch_size])
            if not entries:
                return rotated
            last_id = entries[-1].pk
            for entry in entries:
                try:
                    value = fernet.decrypt(bytes(entry.ciphertext)).decode()
                except InvalidToken:
                    continue  # encrypted under a key no longer listed: nothing can read it anyway
                digest = _digest(current_key, entry.conversation_id, entry.entity_type, value)
                if digest == entry.digest:
                    continue
                entry.ciphertext = fernet.encrypt(value.encode())
                entry.digest = digest
                entry.save(update_fields=["ciphertext", "digest"])
                rotated += 1


def vault_purge_expired(*, now=None) -> int:
    deleted, _ = PiiVaultEntry.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def vault_conversations_holding(*, entries: QuerySet[PiiVaultEntry], entity_type: str, value: str) -> set[int]:
    """The conversations among `entries` whose vault holds `value` (a data-subject request looking
    for an email address): matched by keyed digest, so nothing is decrypted and the value is
    stored nowhere. The digest is per conversation, hence one HMAC per conversation looked at."""
    matched: set[int] = set()
    current_id, expected = None, set()
    rows = (
        entries.filter(entity_type=entity_type)
        .order_by("conversation_id")
        .values_list("conversation_id", "digest")
        .iterator(chunk_size=5000)
    )
    for conversation_id, digest in rows:
        if conversation_id != current_id:
            current_id, expected = conversation_id, set(_digests(conversation_id, entity_type, value))
        if digest in expected:
            matched.add(conversation_id)
    return matched
