"""Signed identity: the host site proves who its logged-in user is, for a limited time.

The host site computes hex(HMAC-SHA256(site identity secret, f"{user id}:{expires}")) on its server,
with `expires` a unix time in seconds at most IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS ahead, and
passes id, expiry and signature to the widget; we recompute and compare in constant time. A copied
signature therefore stops working when it expires. Without a valid signature the visitor is
anonymous, whatever id the page claims.

Old host sites sign the id alone (no expiry). Such signatures are accepted only while the site's
`accept_unexpiring_signatures` migration switch is on. After a rotation the previous secret keeps
verifying until `previous_identity_secret_valid_until`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import datetime
from typing import Protocol

from django.conf import settings

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class IdentitySecrets(Protocol):
    identity_secret: str
    previous_identity_secret: str
    previous_identity_secret_valid_until: datetime | None
    accept_unexpiring_signatures: bool


def identity_signature(*, secret: str, user_id: str, expires: int | None = None) -> str:
    """The signature a host site sends; `expires=None` is the legacy form over the id alone."""
    signed = user_id if expires is None else f"{user_id}:{expires}"
    return hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()


def identity_expiry_default(*, now: float | None = None) -> int:
    """An expiry a server-side signer can use: the longest lifetime the widget API accepts."""
    return int(now if now is not None else time.time()) + settings.IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS


def identity_signature_verify(
    *, site: IdentitySecrets, user_id: str, signature: str, expires: int | None, now: float | None = None
) -> bool:
    """Is `signature` valid for this user (and expiry) under the site's current secret, or under the
    previous one while its grace period lasts?"""
    # A signature that is not 64 hex digits (say, non-ASCII text) can never match: refusing it here
    # keeps compare_digest, which rejects non-ASCII str, from raising.
    candidate = signature.strip().lower()
    if not _HEX_SHA256.fullmatch(candidate):
        return False
    current = time.time() if now is None else now
    if expires is None:
        if not site.accept_unexpiring_signatures:
            return False
    elif not current < expires <= current + settings.IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS:
        return False
    secrets = [site.identity_secret]
    valid_until = site.previous_identity_secret_valid_until
    if site.previous_identity_secret and valid_until is not None and valid_until.timestamp() > current:
        secrets.append(site.previous_identity_secret)
    matches = [
        hmac.compare_digest(identity_signature(secret=secret, user_id=user_id, expires=expires), candidate)
        for secret in secrets  # both compared, so the timing does not tell which secret matched
    ]
    return any(matches)
