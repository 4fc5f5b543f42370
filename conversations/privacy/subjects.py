"""Finding the person a data-subject request is about.

A customer is stored by the host site's user id (Customer.external_id) or not at all (anonymous);
an email address is never stored in clear, only as a vault entry of a conversation (encrypted,
with a keyed digest). So a request by email finds the conversations whose vault holds that
address (guardrails.pii.vault.vault_conversations_holding) and takes their customers: every
visitor who gave that address, signed in or not. A request by user id finds that customer. An
identifier that could be either (host sites often use the email as the user id) is tried both
ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.models import Conversation, Customer, WidgetSite
from guardrails.models import PiiVaultEntry
from guardrails.pii.vault import vault_conversations_holding
from supportbot.errors import CodedError

EMAIL_ENTITY = "EMAIL_ADDRESS"


class DataRequestError(CodedError):
    """The request names no site, or names it ambiguously."""


@dataclass(frozen=True)
class DataSubject:
    site: WidgetSite
    customer_ids: tuple[int, ...]
    matched_by: tuple[str, ...]  # "external_id", "email", "customer" (picked in the admin)

    @property
    def found(self) -> bool:
        return bool(self.customer_ids)

    def conversation_ids(self) -> list[int]:
        return list(
            Conversation.objects.filter(customer_id__in=self.customer_ids).order_by("pk").values_list("pk", flat=True)
        )


def data_request_site(*, site: str) -> WidgetSite:
    """The site by its public key, or by its name when exactly one site has it."""
    by_key = WidgetSite.objects.filter(key=site).first()
    if by_key is not None:
        return by_key
    by_name = list(WidgetSite.objects.filter(name=site)[:2])
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise DataRequestError("ambiguous_site", f"several sites are named {site!r}: give the site key")
    raise DataRequestError("unknown_site", f"no site has the key or name {site!r}")


def data_subject_find(*, site: WidgetSite, identifier: str) -> DataSubject:
    identifier = identifier.strip()
    if not identifier:
        raise DataRequestError("bad_identifier", "give the customer's user id or email address")
    customer_ids: set[int] = set()
    matched_by: list[str] = []
    by_id = Customer.objects.filter(site=site, external_id=identifier).values_list("pk", flat=True).first()
    if by_id is not None:
        customer_ids.add(by_id)
        matched_by.append("external_id")
    if "@" in identifier:
        entries = PiiVaultEntry.objects.filter(conversation__site=site)
        conversation_ids = vault_conversations_holding(entries=entries, entity_type=EMAIL_ENTITY, value=identifier)
        by_email = set(Conversation.objects.filter(pk__in=conversation_ids).values_list("customer_id", flat=True))
        if by_email:
            customer_ids |= by_email
            matched_by.append("email")
    return DataSubject(site=site, customer_ids=tuple(sorted(customer_ids)), matched_by=tuple(matched_by))


def data_subject_for_customer(*, customer: Customer) -> DataSubject:
    """The admin's Customer page acts on the customer shown."""
    return DataSubject(site=customer.site, customer_ids=(customer.pk,), matched_by=("customer",))
