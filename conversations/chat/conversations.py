"""Conversation lifecycle in the chat layer: open, language, rate. Asking for a person and
resolving end or start ownership, so they live with the handoff (conversations/handoff/)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.chat.messages import agent_own_names
from conversations.core import events
from conversations.lib.language_detection import language_detect
from conversations.lib.languages import DEFAULT_LANGUAGE
from conversations.models import Conversation, CsatRating, Customer, WidgetSite
from guardrails.redaction import text_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue


class ConversationStateError(CodedError):
    """The conversation is not in a state that allows this (e.g. rating an open conversation)."""


def conversation_open(*, site: WidgetSite, customer: Customer, language: str | None = None) -> Conversation:
    """`language`: the widget's; the customer's language starts as it until their messages say otherwise."""
    language = language or DEFAULT_LANGUAGE
    conversation = Conversation.objects.create(
        site=site, customer=customer, widget_language=language, language=language
    )
    events.publish_inbox_changed(conversation.public_id)
    webhook_events_enqueue(
        conversation_id=conversation.pk,
        event="conversation.created",
        payload=webhook_payloads.conversation_created(conversation),
    )
    return conversation


def conversation_widget_language_set(*, conversation: Conversation, language: str) -> None:
    """The widget came back in another language (the customer switched the page's): its texts
    follow, and so does the customer's language unless their messages already told it."""
    fields: dict[str, Any] = {"widget_language": language}
    if not conversation.language_detected:
        fields["language"] = language
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)


def conversation_language_observe(*, conversation_id: int, text: str, known_language: str | None = None) -> str | None:
    """Detect the customer's language from a message they wrote; a message too short or unsure to
    tell keeps the language we had. Returns the language when it changed. `known_language`: the
    language already detected from this conversation's messages, when the caller has just read it
    (message_post returns it): a message in that language, most of them, then costs no query."""
    detection = language_detect(text=text)
    if detection.language is None or detection.language == known_language:
        return None
    changed = (
        Conversation.objects.filter(pk=conversation_id)
        .exclude(language=detection.language, language_detected=True)
        .update(language=detection.language, language_detected=True)
    )
    if changed:
        events.publish_inbox_changed(Conversation.objects.values_list("public_id", flat=True).get(pk=conversation_id))
        return detection.language
    return None


def _reload(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("assignee").get(pk=conversation_id)


def conversation_rate(*, conversation_id: int, score: int, comment: str = "") -> Conversation:
    """Record the customer's CSAT rating; only a resolved conversation can be rated."""
    if not 1 <= score <= 5:
        raise ConversationStateError("bad_frame", "score must be between 1 and 5")
    # Checked before the redaction below writes the comment's values to the vault (and again under
    # the lock): a refused rating must leave nothing behind.
    if not Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.RESOLVED).exists():
        raise ConversationStateError("conversation_open", "only a resolved conversation can be rated")
    if comment.strip():  # a free-text comment is stored text like any message; naming the agent is fine
        assignee = Conversation.objects.select_related("assignee").get(pk=conversation_id).assignee
        keep = agent_own_names(assignee) if assignee else frozenset()
        comment = text_redact(conversation_id=conversation_id, text=comment, keep=keep).text
    with transaction.atomic():
        resolved = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation_id, status=Conversation.Status.RESOLVED)
            .first()
        )
        # A resolved conversation always has its resolved_at; the rating is keyed by it.
        if resolved is None or resolved.resolved_at is None:
            raise ConversationStateError("conversation_open", "only a resolved conversation can be rated")
        # Rating the same resolution again (the stars, then a comment) replaces that rating.
        CsatRating.objects.update_or_create(
            conversation=resolved,
            resolved_at=resolved.resolved_at,
            defaults={"score": score, "comment": comment, "agent_id": resolved.assignee_id},
        )
        Conversation.objects.filter(pk=conversation_id).update(
            csat_score=score, csat_comment=comment, updated_at=timezone.now()
        )
        webhook_events_enqueue(
            conversation_id=conversation_id,
            event="csat.created",
            payload=webhook_payloads.csat_created(conversation=resolved, score=score, comment=comment),
        )
    conversation = _reload(conversation_id)
    events.publish_inbox_changed(conversation.public_id)
    events.publish_header_changed(conversation.public_id)
    return conversation
