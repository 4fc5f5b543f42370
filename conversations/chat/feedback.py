"""The customer's thumbs up or down on a bot answer (the `feedback` frame, docs/protocol.md)."""

from __future__ import annotations

from django.db import transaction

from conversations.core import events
from conversations.models import Conversation, Message, MessageFeedback
from guardrails.redaction import text_redact
from supportbot.errors import CodedError


class FeedbackError(CodedError):
    """Feedback on something that is not one of this conversation's bot answers, or a bad rating."""


def message_feedback_record(*, conversation_id: int, seq: int, rating: str, comment: str = "") -> MessageFeedback:
    """Store (or replace) the rating of the bot message `seq` of this conversation.

    The comment is free text the customer typed, so it is redacted like a message before it is
    stored. Agents watching the conversation see the rating on the message live.
    """
    if rating not in MessageFeedback.Rating.values:
        raise FeedbackError("bad_frame", "rating must be 'up' or 'down'")
    message = (
        Message.objects.filter(conversation_id=conversation_id, seq=seq, role=Message.Role.BOT)
        .only("pk", "seq")
        .first()
    )
    if message is None:
        # Customer, agent and system messages are not rateable; to the client they do not exist.
        raise FeedbackError("not_found", f"no bot answer with seq {seq} in this conversation")
    comment = comment.strip()
    if comment:
        comment = text_redact(conversation_id=conversation_id, text=comment).text
    with transaction.atomic():
        feedback, _ = MessageFeedback.objects.update_or_create(
            message=message,
            defaults={"conversation_id": conversation_id, "rating": rating, "comment": comment},
        )
        public_id = Conversation.objects.filter(pk=conversation_id).values_list("public_id", flat=True).get()
        events.publish_feedback(public_id=public_id, seq=seq)
    return feedback
