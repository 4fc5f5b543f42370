"""The customer asks for the conversation by email; a Celery task sends it (the mail itself:
conversations/chat/transcript_mail.py).

The address goes into the conversation's vault like any personal value (only its placeholder
travels through Redis to the worker). In the mail, placeholders are re-hydrated only for values
the customer typed themselves: whatever else was redacted (an agent's colleague's number, data
from a tool result) stays a placeholder, because the recipient is whoever the customer named.

Only to an address this conversation proved: the signed-in customer's account email, or the
account email behind an order number + email verification that is still valid (the commerce API
is asked at request time). A typed address must match it; each recipient gets at most
TRANSCRIPTS_PER_RECIPIENT_PER_HOUR mails whatever conversation asks. Links in message texts are
defanged in the mail ("hxxps://example[.]com/..."), so a mail client shows them as text, not as
something to click: the texts are what a customer, a tool or an agent wrote, not our own links.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from conversations.chat.authorization import conversation_authorization
from conversations.chat.tasks import send_transcript_email
from conversations.core import commerce
from guardrails.limits import transcript_limit_check, transcript_recipient_limit_check
from guardrails.pii.vault import placeholders_in
from guardrails.redaction import text_redact
from supportbot.errors import CodedError


class TranscriptRefused(CodedError):
    """Not a usable address, or asked too often."""


def transcript_email_request(*, conversation_id: int, email: str) -> str:
    """Validate, vault the address and enqueue the mail. Returns the address's placeholder."""
    try:
        validate_email(email)
    except ValidationError:
        raise TranscriptRefused("bad_frame", "email must be an email address") from None
    exceeded = transcript_limit_check(conversation_id=conversation_id)
    if exceeded is not None:
        raise TranscriptRefused(exceeded.code, exceeded.message)
    if email.strip().casefold() not in transcript_verified_addresses(conversation_id=conversation_id):
        raise TranscriptRefused("not_verified", "transcripts go only to the email address of your verified account")
    exceeded = transcript_recipient_limit_check(email=email)
    if exceeded is not None:
        raise TranscriptRefused(exceeded.code, exceeded.message)
    redaction = text_redact(conversation_id=conversation_id, text=email)
    placeholder = redaction.text.strip()
    if not placeholders_in(placeholder) or placeholder != redaction.text.strip():
        raise TranscriptRefused("bad_frame", "email must be an email address")
    transaction.on_commit(lambda: send_transcript_email.delay(conversation_id, placeholder))
    return placeholder


def transcript_verified_addresses(*, conversation_id: int) -> set[str]:
    """The addresses (case-folded) this conversation proved it owns; empty for a visitor who
    neither signed in nor verified an order."""
    customer_id = conversation_authorization(conversation_id=conversation_id).customer_id
    if customer_id is None:
        return set()
    try:
        account = async_to_sync(commerce.customer_get)(customer_id)
    except commerce.CommerceError:
        raise TranscriptRefused("unavailable", "the account could not be checked right now; try again later") from None
    email = account.get("email")
    return {email.strip().casefold()} if isinstance(email, str) and email.strip() else set()
