"""Erasing one person (a data-subject erasure request).

What goes: the vault entries (the only place their values are kept in clear, encrypted), every
text they or anyone wrote in their conversations (messages, notes, ratings' and thumbs'
comments, handoff summaries, action cards and arguments, API answers, guardrail event details),
the identity on the customer row (the host's user id; the anonymous id is replaced so no widget
token resumes their conversations), the admin log's name for the row, and their files.

What stays, on purpose: the rows themselves, as counted shells (roles, seqs, times, statuses,
reasons, scores, the `answered`/`citations` flags of bot replies and the resolution notices), so
the metrics page and any count keep their numbers. Nothing left can be tied back to the person.

Idempotent: a second run finds nothing more to change; both runs are recorded (GuardrailEvent)
with the customer rows and counts only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.models import (
    ActionCall,
    Conversation,
    CsatRating,
    Customer,
    Handoff,
    InternalNote,
    Message,
    MessageFeedback,
    ModelCall,
)
from conversations.privacy.files import conversation_files_release
from conversations.privacy.subjects import DataSubject
from conversations.reports.metrics import resolution_texts
from guardrails.models import GuardrailEvent, PiiVaultEntry
from guardrails.services import guardrail_event_record
from webhooks.services import webhook_deliveries_forget

ERASE_PERMISSION = "conversations.erase_customer_data"
ERASED_TEXT = "[erased at the customer's request]"
# Bot-reply flags the metrics page counts; none can hold personal data (booleans, help-center links).
KEPT_EXTRAS = ("answered", "citations", "related", "guardrail")


@dataclass(frozen=True)
class ErasureResult:
    customers: int
    conversations: int
    messages: int  # texts replaced now (0 on a second run)
    vault_entries: int
    files: int


def customer_data_erase(*, subject: DataSubject, actor: Any = None) -> ErasureResult:
    """Erase `subject`; `actor` (staff in the admin) must hold erase_customer_data. A command
    passes no actor: whoever runs manage.py already has the database."""
    if actor is not None and not actor.has_perm(ERASE_PERMISSION):
        raise PermissionDenied("erasing a customer's data needs the erase_customer_data permission")
    with transaction.atomic():
        customers = list(Customer.objects.select_for_update().filter(pk__in=subject.customer_ids).order_by("pk"))
        # Locking the conversations makes a message posted at this moment wait, then land after
        # the erasure (on a shell whose token no longer resumes), never half-erased.
        conversation_ids = list(
            Conversation.objects.select_for_update()
            .filter(customer__in=customers)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        files = conversation_files_release(conversation_ids=conversation_ids)
        webhook_deliveries_forget(
            conversation_public_ids=Conversation.objects.filter(pk__in=conversation_ids).values_list(
                "public_id", flat=True
            )
        )
        vault_entries, _ = PiiVaultEntry.objects.filter(conversation_id__in=conversation_ids).delete()
        messages = _messages_erase(conversation_ids)
        _conversation_texts_erase(conversation_ids)
        _customers_erase(customers)
        result = ErasureResult(
            customers=len(customers),
            conversations=len(conversation_ids),
            messages=messages,
            vault_entries=vault_entries,
            files=files,
        )
        guardrail_event_record(
            kind=GuardrailEvent.Kind.DATA_SUBJECT_ERASE,
            action=GuardrailEvent.Action.ERASED,
            site_id=subject.site.pk,
            actor=actor,
            detail={
                "customers": list(subject.customer_ids),
                "matched_by": list(subject.matched_by),
                "conversations": result.conversations,
                "messages": result.messages,
                "vault_entries": result.vault_entries,
                "files": result.files,
            },
        )
    return result


def _messages_erase(conversation_ids: list[int]) -> int:
    # The resolution notices are the app's own fixed sentences, and the AI resolution rate reads them.
    kept = Q(role=Message.Role.SYSTEM, text__in=resolution_texts())
    texts = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .exclude(kept)
        .exclude(text=ERASED_TEXT)
        .update(text=ERASED_TEXT)
    )
    changed = []
    for message in Message.objects.filter(conversation_id__in=conversation_ids).exclude(extras={}).only("pk", "extras"):
        extras = {key: value for key, value in message.extras.items() if key in KEPT_EXTRAS}
        if extras != message.extras:
            message.extras = extras
            changed.append(message)
    Message.objects.bulk_update(changed, ["extras"], batch_size=500)
    return texts


def _conversation_texts_erase(conversation_ids: list[int]) -> None:
    in_scope = {"conversation_id__in": conversation_ids}
    # No updated_at: erasing is not activity, and retention still counts from the last message.
    Conversation.objects.filter(pk__in=conversation_ids).update(
        csat_comment="", bot_state={}, verified_customer_id="", verified_order_number="", verified_until=None
    )
    CsatRating.objects.filter(**in_scope).exclude(comment="").update(comment="")
    MessageFeedback.objects.filter(**in_scope).exclude(comment="").update(comment="")
    InternalNote.objects.filter(**in_scope).exclude(text=ERASED_TEXT).update(text=ERASED_TEXT)
    Handoff.objects.filter(**in_scope).exclude(summary="").exclude(summary=ERASED_TEXT).update(summary=ERASED_TEXT)
    Handoff.objects.filter(**in_scope).update(return_note="", follow_up_email="")
    ActionCall.objects.filter(**in_scope).update(arguments={}, result={}, summary=ERASED_TEXT, customer_id="")
    ModelCall.objects.filter(**in_scope).exclude(error="").update(error="")
    GuardrailEvent.objects.filter(**in_scope).exclude(detail={}).update(detail={})


def _customers_erase(customers: list[Customer]) -> None:
    now = timezone.now()
    for customer in customers:
        if customer.erased_at is None:
            # A new anonymous id: widget tokens are bound to it, so none of theirs resumes a conversation.
            Customer.objects.filter(pk=customer.pk).update(external_id=None, anonymous_id=uuid.uuid4(), erased_at=now)
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), object_id__in=[str(c.pk) for c in customers]
    ).update(object_repr="Erased customer")
