"""Conversation lifecycle: open, ask for a human, resolve, rate."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from conversations import events
from conversations.handoff.services import handoff_close_on_resolve, handoff_open
from conversations.languages.detection import language_detect
from conversations.languages.negotiation import DEFAULT_LANGUAGE
from conversations.models import Conversation, CsatRating, Customer, WidgetSite
from conversations.services.agents import agent_check
from conversations.services.messages import agent_own_names, system_message_post
from guardrails.redaction import text_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue


class ConversationStateError(CodedError):
    """The conversation is not in a state that allows this (e.g. rating an open conversation)."""


def conversation_open(*, site: WidgetSite, customer: Customer, language: str | None = None) -> Conversation:
    """`language`: the widget's; the customer's language starts as it until their messages say otherwise."""
    language = language or DEFAULT_LANGUAGE
    conversation = Conversation.objects.create(site=site, customer=customer, widget_language=language, language=language)
    events.publish_inbox_changed(conversation.public_id)
    webhook_events_enqueue(conversation_id=conversation.pk, event="conversation.created",
                           payload=webhook_payloads.conversation_created(conversation))
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


def conversation_language_observe(*, conversation_id: int, text: str) -> str | None:
    """Detect the customer's language from a message they wrote; a message too short or unsure to
    tell keeps the language we had. Returns the language when it changed."""
    detection = language_detect(text=text)
    if detection.language is None:
        return None
    changed = (Conversation.objects.filter(pk=conversation_id)
               .exclude(language=detection.language, language_detected=True)
               .update(language=detection.language, language_detected=True))
    if changed:
        events.publish_inbox_changed(Conversation.objects.values_list("public_id", flat=True).get(pk=conversation_id))
        return detection.language
    return None


def _reload(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("assignee").get(pk=conversation_id)


def conversation_request_human(
    *, conversation_id: int, reason: str = Conversation.HandoffReason.CUSTOMER_REQUEST
) -> Conversation:
    """Queue the conversation for a person (the handoff workflow takes it from there).
    Idempotent: asking while a handoff is open changes nothing."""
    handoff_open(conversation_id=conversation_id, reason=reason)
    return _reload(conversation_id)


RESOLVED_TEXT = gettext_noop("This conversation has been resolved.")


def conversation_resolve(
    *, conversation_id: int, agent: Any, reason: str = Conversation.ResolutionReason.ANSWERED
) -> Conversation:
    agent_check(agent)
    if reason not in Conversation.ResolutionReason.values:
        raise ConversationStateError("bad_reason", f"resolution reason must be one of {Conversation.ResolutionReason.values}")
    resolve_if(conversation_id=conversation_id, agent=agent, reason=reason, text=RESOLVED_TEXT)
    return _reload(conversation_id)


def resolve_if(*, conversation_id: int, agent: Any, reason: str, text: str, still: QuerySet[Conversation] | None = None) -> bool:
    """Resolve under the conversation's row lock, only if `still` (re-checked under the lock)
    holds: a customer message racing an automatic close either lands first and keeps the
    conversation open, or lands after and reopens it. True when this call resolved it."""
    with transaction.atomic():
        Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if still is not None and not still.filter(pk=conversation_id).exists():
            return False
        resolved = (
            Conversation.objects.filter(pk=conversation_id)
            .exclude(status=Conversation.Status.RESOLVED)
            .update(status=Conversation.Status.RESOLVED, resolved_at=timezone.now(), updated_at=timezone.now(),
                    resolution_reason=reason,
                    # A returning visitor verifies again: what a verification unlocked ends here.
                    verified_customer_id="", verified_order_number="", verified_until=None)
        )
        if resolved:
            handoff_close_on_resolve(conversation_id=conversation_id, agent=agent, reason=reason)
            system_message_post(conversation_id=conversation_id, text=text)
            events.publish_status(_reload(conversation_id))
            events.publish_team_changed()
            webhook_events_enqueue(conversation_id=conversation_id, event="conversation.resolved",
                                   payload=webhook_payloads.conversation_resolved(reason=reason, agent=agent))
    return bool(resolved)


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
        resolved = (Conversation.objects.select_for_update()
                    .filter(pk=conversation_id, status=Conversation.Status.RESOLVED).first())
        if resolved is None:
            raise ConversationStateError("conversation_open", "only a resolved conversation can be rated")
        # Rating the same resolution again (the stars, then a comment) replaces that rating.
        CsatRating.objects.update_or_create(
            conversation=resolved, resolved_at=resolved.resolved_at,
            defaults={"score": score, "comment": comment, "agent_id": resolved.assignee_id},
        )
        Conversation.objects.filter(pk=conversation_id).update(csat_score=score, csat_comment=comment,
                                                               updated_at=timezone.now())
        webhook_events_enqueue(conversation_id=conversation_id, event="csat.created",
                               payload=webhook_payloads.csat_created(conversation=resolved, score=score, comment=comment))
    conversation = _reload(conversation_id)
    events.publish_inbox_changed(conversation.public_id)
    events.publish_header_changed(conversation.public_id)
    return conversation
