"""Reads: who may fetch an attachment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from conversations.core.people import user_is_agent
from conversations.handoff.access import conversations_visible_q
from conversations.lib.attachment_links import attachment_customer_token_valid
from conversations.models import Attachment, Conversation


@dataclass(frozen=True)
class AttachmentDenied:
    status: Literal[403, 404]


def attachment_for_download(*, public_id: UUID, token: str, user: Any) -> Attachment | AttachmentDenied:
    """The customer of the attachment's conversation (its per-attachment token, links.py) or an
    agent who can see the conversation under the inbox's rules. A bad token gets 404, like an id
    that does not exist; a signed-in agent outside the conversation's queues gets 403."""
    attachment = Attachment.objects.select_related("conversation__customer").filter(public_id=public_id).first()
    if attachment is None:
        return AttachmentDenied(404)
    if token and attachment_customer_token_valid(
        token=token, attachment_id=attachment.public_id, customer_key=attachment.conversation.customer.anonymous_id
    ):
        return attachment
    if user_is_agent(user):
        visible = Conversation.objects.filter(conversations_visible_q(user), pk=attachment.conversation_id).exists()
        return attachment if visible else AttachmentDenied(403)
    return AttachmentDenied(404)
