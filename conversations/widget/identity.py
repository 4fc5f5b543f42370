"""Signed identity: the host site proves who its logged-in user is.

The host site computes hex(HMAC-SHA256(site identity secret, user id)) on its server and passes
it to the widget; we recompute and compare in constant time. Without a valid signature the
visitor is anonymous, whatever id the page claims.
"""

from __future__ import annotations

import hashlib
import hmac


def identity_signature(*, secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_signature_valid(*, secret: str, user_id: str, signature: str) -> bool:
    expected = identity_signature(secret=secret, user_id=user_id)
    if not signature.isascii():  # compare_digest raises TypeError on non-ASCII str: a 500, not a 401
        return False
    return hmac.compare_digest(expected, signature.strip().lower())
