"""The two message use cases that span chat and handoff: a customer's message (it may reopen the
conversation, start live chat with the team, leave an address for a follow-up) and an agent's
reply (it may take the conversation over). Storing and broadcasting is chat's message_post."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django.db import transaction

from conversations.chat.attachments import attachment_extras, attachment_for_message, attachment_link
from conversations.chat.conversations import conversation_language_observe
from conversations.chat.messages import PostedMessage, agent_own_names, message_post
from conversations.core.people import agent_check
from conversations.handoff.services import (
    handoff_agent_replied,
    handoff_follow_up_capture,
    handoff_open_for_live_chat,
)
from conversations.models import Attachment, Message
from guardrails.pii.engine import PiiSpan

EMAIL_PLACEHOLDER = re.compile(r"<EMAIL_ADDRESS_\d+>")


def customer_message_post(
    *,
    conversation_id: int,
    text: str,
    client_id: UUID,
    detected: list[PiiSpan] | None = None,
    attachment_id: UUID | None = None,
) -> PostedMessage:
    """A customer's message. Writing into a resolved conversation reopens it. On a site with the
    bot off, it goes to the team. An email address typed while the team is away is kept for the
    follow-up. `detected`: the text's PII spans, when the socket detected them off its loop.
    `attachment_id`: a file the customer uploaded to this conversation (text may then be empty)."""
    attachment = None
    if attachment_id is not None:
        attachment = attachment_for_message(
            conversation_id=conversation_id,
            attachment_id=attachment_id,
            uploader=Attachment.Uploader.CUSTOMER,
            client_id=client_id,
        )
    posted = message_post(
        conversation_id=conversation_id,
        role=Message.Role.CUSTOMER,
        text=text,
        client_id=client_id,
        reopen=True,
        redact=True,
        redact_detected=detected,
        extras={"attachments": [attachment_extras(attachment)]} if attachment else None,
    )
    if not posted.created:
        return posted
    if attachment is not None:
        attachment_link(attachment=attachment, message=posted.message)
    # Before the handoff below: its system messages are written in the customer's language.
    state = posted.conversation
    conversation_language_observe(
        conversation_id=conversation_id,
        text=posted.message.text,
        known_language=state.language if state is not None and state.language_detected else None,
    )
    handoff_open_for_live_chat(conversation_id=conversation_id, appended=state)
    if posted.message.extras.get("pii", {}).get("EMAIL_ADDRESS"):
        email = EMAIL_PLACEHOLDER.search(posted.message.text)
        if email:
            handoff_follow_up_capture(conversation_id=conversation_id, email_placeholder=email.group(0))
    return posted


def agent_message_post(
    *, conversation_id: int, agent: Any, text: str, client_id: UUID | None = None, attachment_id: UUID | None = None
) -> PostedMessage:
    """An agent's reply. Replying to a conversation nobody owns takes it over (the bot goes
    silent); a reply to a colleague's conversation leaves it with them. `attachment_id`: a file
    uploaded to this conversation by an agent (text may then be empty)."""
    agent_check(agent)
    attachment = None
    if attachment_id is not None:
        attachment = attachment_for_message(
            conversation_id=conversation_id,
            attachment_id=attachment_id,
            uploader=Attachment.Uploader.AGENT,
            client_id=client_id,
        )
    with transaction.atomic():
        handoff_agent_replied(conversation_id=conversation_id, agent=agent)
        posted = message_post(
            conversation_id=conversation_id,
            role=Message.Role.AGENT,
            text=text,
            client_id=client_id,
            author=agent,
            redact=True,
            redact_keep=agent_own_names(agent),
            extras={"attachments": [attachment_extras(attachment)]} if attachment else None,
        )
        if attachment is not None and posted.created:
            attachment_link(attachment=attachment, message=posted.message)
    return posted
