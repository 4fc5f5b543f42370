"""Per-site retention: conversations with no activity for WidgetSite.retention_days are deleted
with everything that hangs off them (messages, vault entries, feedback, ratings, actions, model
calls, handoffs with their events, notes, guardrail events, files), after their share of the
metrics page is folded into the daily aggregates (conversations/privacy/fold.py).

Work goes in batches, each its own short transaction, so a purge of a large backlog never holds
locks for long. A batch claims its conversations with FOR UPDATE SKIP LOCKED: two purges running
at once (a beat tick overlapping a slow run) take different conversations, and one a customer is
writing to right now (message_post holds its row lock) is left for the next run. The age test is
repeated under the lock, so a conversation that came back to life in the meantime is kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from conversations.models import Conversation, Customer, WidgetSite
from conversations.privacy.files import conversation_files_release
from conversations.privacy.fold import metrics_fold
from guardrails.models import GuardrailEvent
from guardrails.services import guardrail_event_record

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200


@dataclass(frozen=True)
class PurgeResult:
    conversations: int
    customers: int


def expired_conversations(*, site: WidgetSite, now: datetime) -> QuerySet[Conversation]:
    """The site's conversations whose last activity (message, change or start) is older than its
    retention period; none when the site keeps everything (retention_days = 0)."""
    if site.retention_days <= 0:
        return Conversation.objects.none()
    cutoff = now - timedelta(days=site.retention_days)
    # GREATEST skips NULLs in Postgres: a conversation without messages counts from its start.
    return (
        Conversation.objects.filter(site_id=site.pk)
        .alias(last_activity=Greatest("created_at", "updated_at", "last_message_at"))
        .filter(last_activity__lt=cutoff)
    )


def conversations_purge_expired(*, now: datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> PurgeResult:
    """Apply every site's retention period once; returns what was deleted."""
    now = now or timezone.now()
    conversations = customers = 0
    for site in WidgetSite.objects.filter(retention_days__gt=0).order_by("pk"):
        site_result = site_conversations_purge(site=site, now=now, batch_size=batch_size)
        conversations += site_result.conversations
        customers += site_result.customers
    return PurgeResult(conversations=conversations, customers=customers)


def site_conversations_purge(*, site: WidgetSite, now: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> PurgeResult:
    conversations = customers = 0
    while True:
        with transaction.atomic():
            ids = list(
                expired_conversations(site=site, now=now)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            customer_ids = set(Conversation.objects.filter(pk__in=ids).values_list("customer_id", flat=True))
            metrics_fold(conversation_ids=ids)
            conversation_files_release(conversation_ids=ids)
            Conversation.objects.filter(pk__in=ids).delete()
            customers += _customers_without_conversations_delete(customer_ids=customer_ids, site=site, now=now)
            conversations += len(ids)
        if len(ids) < batch_size:
            break
    if conversations:
        guardrail_event_record(
            kind=GuardrailEvent.Kind.RETENTION_PURGE,
            action=GuardrailEvent.Action.DELETED,
            site_id=site.pk,
            detail={"retention_days": site.retention_days, "conversations": conversations, "customers": customers},
        )
        logger.info(
            "retention: deleted %s conversations and %s customers of site %s", conversations, customers, site.key
        )
    return PurgeResult(conversations=conversations, customers=customers)


def _customers_without_conversations_delete(*, customer_ids: set[int], site: WidgetSite, now: datetime) -> int:
    """A customer row is an identity (the host site's user id) and nothing else: once its last
    conversation is gone and it has not been seen within the retention period, it goes too. A
    signed-in user who comes back later simply gets a new row."""
    cutoff = now - timedelta(days=site.retention_days)
    _, per_model = (
        Customer.objects.filter(pk__in=customer_ids, last_seen_at__lt=cutoff)
        .exclude(Exists(Conversation.objects.filter(customer=OuterRef("pk"))))
        .delete()
    )
    return per_model.get(Customer._meta.label, 0)
