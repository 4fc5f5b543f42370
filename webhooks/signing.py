"""Webhook secrets and signatures.

Signature (docs/webhooks.md): `v1=` + hex HMAC-SHA256, keyed with the secret's UTF-8 bytes,
over `f"{timestamp}.{body}"` (timestamp: the Webhook-Timestamp header, Unix seconds; body: the
raw request body). The event id is inside the signed body. During a rotation's grace period the
header carries one `v1=` per valid secret, separated by spaces, newest first.

Secrets are stored encrypted with the PII vault's keys (PII_VAULT_KEY: MultiFernet, newest key
encrypts, every listed key decrypts; in demo mode a key derived from SECRET_KEY), so a key
rotation works the same way for both; `webhook_secrets_reencrypt` re-encrypts under the newest key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_PREFIX = "whsec_"


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [key.encode() for key in settings.PII_VAULT_KEYS]
    if not keys:  # demo mode only: the settings refuse to start without PII_VAULT_KEY otherwise
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"supportbot pii vault").derive(
            settings.SECRET_KEY.encode()
        )
        keys = [base64.urlsafe_b64encode(derived)]
    return MultiFernet([Fernet(key) for key in keys])


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_encrypt(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode())


def secret_decrypt(ciphertext: bytes | memoryview) -> str:
    return _fernet().decrypt(bytes(ciphertext)).decode()


def secret_rotate_ciphertext(ciphertext: bytes | memoryview) -> bytes:
    return _fernet().rotate(bytes(ciphertext))


def secret_fingerprint(secret: str) -> str:
    """Tells two secrets apart without revealing either."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets_: list[str], timestamp: int, body: bytes) -> str:
    return " ".join(signature(secret=secret, timestamp=timestamp, body=body) for secret in secrets_)
