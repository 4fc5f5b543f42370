"""Signed conversation tokens: the widget's only credential for its conversation's socket.

A token binds a conversation's public id to the site it was opened on and to the customer it was
issued for (their opaque `anonymous_id`, never the host site's user id), and expires after
CONVERSATION_TOKEN_MAX_AGE_HOURS. Tokens rotate: every session answer and every `resumed` frame
carries a fresh one, while older ones stay valid until they expire. Verification here is pure HMAC
(no database read), so a wrong or expired token is refused the same way whether or not the
conversation exists; the customer binding is re-checked against the database by the callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core import signing

# v2 added the customer binding; v1 tokens (30-day, unbound) are no longer accepted.
_SALT = "supportbot.conversation-token.v2"


@dataclass(frozen=True)
class TokenClaims:
    conversation_id: UUID
    site_key: str
    customer_key: UUID


def conversation_token_issue(*, conversation_id: UUID, site_key: str, customer_key: UUID) -> str:
    return signing.dumps({"c": str(conversation_id), "s": site_key, "u": str(customer_key)}, salt=_SALT, compress=False)


def conversation_token_verify(token: str | None, *, conversation_id: UUID | None = None) -> TokenClaims | None:
    """Return the claims of a valid, unexpired token (for that conversation, when given), else None."""
    if not token:
        return None
    max_age = settings.CONVERSATION_TOKEN_MAX_AGE_HOURS * 3600
    try:
        payload = signing.loads(token, salt=_SALT, max_age=max_age)
        claims = TokenClaims(
            conversation_id=UUID(payload["c"]), site_key=str(payload["s"]), customer_key=UUID(payload["u"])
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
    if conversation_id is not None and claims.conversation_id != conversation_id:
        return None
    return claims
