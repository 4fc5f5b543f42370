"""Everything stored about one person, as one JSON document (a data-subject access request).

Texts are stored redacted (`<EMAIL_ADDRESS_1>`); the export puts the person's own values back
from the conversation's vault, since the document is for them. The document itself is never
stored: the caller hands it over. The request is recorded as a GuardrailEvent that names the
customer rows and counts, never a value.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from conversations.core.protocol import author_name
from conversations.models import (
    ActionCall,
    Attachment,
    Conversation,
    CsatRating,
    Customer,
    Handoff,
    InternalNote,
    Message,
    MessageFeedback,
    ModelCall,
)
from conversations.privacy.subjects import DataSubject
from guardrails.models import GuardrailEvent
from guardrails.pii.vault import text_rehydrate, vault_values
from guardrails.services import guardrail_event_record

EXPORT_PERMISSION = "conversations.export_customer_data"
FORMAT = "supportbot.customer_export.v1"


def customer_data_export(*, subject: DataSubject, actor: Any = None) -> dict[str, Any]:
    """The document for `subject`; `actor` (staff in the admin) must hold export_customer_data.
    A command passes no actor: whoever runs manage.py already has the database."""
    if actor is not None and not actor.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("exporting a customer's data needs the export_customer_data permission")
    customers = [
        _customer(customer) for customer in Customer.objects.filter(pk__in=subject.customer_ids).order_by("pk")
    ]
    document = {
        "format": FORMAT,
        "exported_at": timezone.now().isoformat(),
        "site": {"key": subject.site.key, "name": subject.site.name},
        "matched_by": list(subject.matched_by),
        "customers": customers,
    }
    guardrail_event_record(
        kind=GuardrailEvent.Kind.DATA_SUBJECT_EXPORT,
        action=GuardrailEvent.Action.EXPORTED,
        site_id=subject.site.pk,
        actor=actor,
        detail={
            "customers": list(subject.customer_ids),
            "matched_by": list(subject.matched_by),
            "conversations": sum(len(c["conversations"]) for c in customers),
        },
    )
    return document


def _customer(customer: Customer) -> dict[str, Any]:
    return {
        "external_id": customer.external_id,
        "anonymous_id": str(customer.anonymous_id),
        "created_at": _time(customer.created_at),
        "last_seen_at": _time(customer.last_seen_at),
        "erased_at": _time(customer.erased_at),
        "conversations": [
            _conversation(conversation)
            for conversation in Conversation.objects.filter(customer=customer)
            .select_related("queue")
            .order_by("created_at")
        ],
    }


def _conversation(conversation: Conversation) -> dict[str, Any]:
    values = vault_values(conversation_id=conversation.pk)

    def clear(value: Any) -> Any:
        return _rehydrated(value, values)

    messages = Message.objects.filter(conversation=conversation).select_related("author").order_by("seq")
    return {
        "id": str(conversation.public_id),
        "status": conversation.status,
        "created_at": _time(conversation.created_at),
        "last_message_at": _time(conversation.last_message_at),
        "resolved_at": _time(conversation.resolved_at),
        "handoff_reason": conversation.handoff_reason,
        "resolution_reason": conversation.resolution_reason,
        "queue": conversation.queue.name if conversation.queue else None,
        "verified_customer_id": conversation.verified_customer_id,
        "verified_order_number": conversation.verified_order_number,
        "personal_data": dict(sorted(values.items())),
        "messages": [
            {
                "seq": m.seq,
                "role": m.role,
                "text": clear(m.text),
                "created_at": _time(m.created_at),
                "author": author_name(m.author) if m.author_id else None,
                "extras": clear(m.extras),
            }
            for m in messages
        ],
        "feedback": [
            {
                "message_seq": f.message.seq,
                "rating": f.rating,
                "comment": clear(f.comment),
                "created_at": _time(f.created_at),
                "updated_at": _time(f.updated_at),
            }
            for f in MessageFeedback.objects.filter(conversation=conversation)
            .select_related("message")
            .order_by("message__seq")
        ],
        "csat_ratings": [
            {
                "score": r.score,
                "comment": clear(r.comment),
                "resolved_at": _time(r.resolved_at),
                "rated_at": _time(r.rated_at),
            }
            for r in CsatRating.objects.filter(conversation=conversation).order_by("resolved_at")
        ],
        "handoffs": [
            _handoff(handoff, clear)
            for handoff in Handoff.objects.filter(conversation=conversation)
            .select_related("queue")
            .order_by("created_at")
        ],
        "notes": [
            {
                "text": clear(n.text),
                "created_at": _time(n.created_at),
                "author": author_name(n.author) if n.author_id else None,
            }
            for n in InternalNote.objects.filter(conversation=conversation).select_related("author")
        ],
        "action_calls": [
            {
                "tool": a.tool,
                "status": a.status,
                "summary": clear(a.summary),
                "arguments": clear(a.arguments),
                "result": clear(a.result),
                "error_code": a.error_code,
                "customer_id": a.customer_id,
                "proposed_at": _time(a.proposed_at),
                "decided_at": _time(a.decided_at),
                "decided_by": a.decided_by,
            }
            for a in ActionCall.objects.filter(conversation=conversation).order_by("proposed_at")
        ],
        # the files themselves stay in storage; the export names them (fetch with the admin's access)
        "attachments": [
            {
                "name": clear(a.name),
                "content_type": a.content_type,
                "size": a.size,
                "uploader": a.uploader,
                "message_seq": a.message.seq if a.message else None,
                "created_at": _time(a.created_at),
            }
            for a in Attachment.objects.filter(conversation=conversation)
            .select_related("message")
            .order_by("created_at")
        ],
        "model_calls": ModelCall.objects.filter(conversation=conversation).count(),
    }


def _handoff(handoff: Handoff, clear: Any) -> dict[str, Any]:
    return {
        "reason": handoff.reason,
        "status": handoff.status,
        "queue": handoff.queue.name if handoff.queue else None,
        "summary": clear(handoff.summary),
        "follow_up_email": clear(handoff.follow_up_email),
        "return_note": clear(handoff.return_note),
        "resolution_reason": handoff.resolution_reason,
        "created_at": _time(handoff.created_at),
        "assigned_at": _time(handoff.assigned_at),
        "first_response_at": _time(handoff.first_response_at),
        "closed_at": _time(handoff.closed_at),
        "events": [
            {"kind": e.kind, "created_at": _time(e.created_at), "detail": e.detail}
            for e in handoff.events.order_by("created_at", "id")
        ],
    }


def _rehydrated(value: Any, values: dict[str, str]) -> Any:
    """Every string inside `value` (text or JSON) with the conversation's placeholders resolved."""
    if isinstance(value, str):
        return text_rehydrate(value, values)
    if isinstance(value, list):
        return [_rehydrated(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _rehydrated(item, values) for key, item in value.items()}
    return value


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
