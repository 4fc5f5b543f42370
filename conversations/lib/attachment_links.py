"""Where an attachment is fetched, and the customer's proof that they may.

An <img> on the customer's page cannot send the conversation token in a header, and the token
must not go into URLs (proxies log them). So a customer's URLs carry a per-attachment token
instead: an HMAC over the attachment id and the conversation's customer (their opaque
`anonymous_id`), checked against the database on every fetch. It opens that one file only, for as
long as the file and that customer binding exist; it is added per socket, for the customer's own
sockets only. Agents' URLs carry nothing: their session is checked against the inbox's rules.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

_SIGNER = signing.Signer(salt="supportbot.attachment-access.v1")


def attachment_customer_token(*, attachment_id: UUID | str, customer_key: UUID | str) -> str:
    return _SIGNER.signature(f"{attachment_id}:{customer_key}")


def attachment_customer_token_valid(*, token: str, attachment_id: UUID, customer_key: UUID) -> bool:
    return bool(token) and constant_time_compare(
        token, attachment_customer_token(attachment_id=attachment_id, customer_key=customer_key)
    )


def attachment_urls(*, attachment_id: str, thumbnail: bool) -> dict[str, str]:
    urls = {"url": reverse("attachment-file", kwargs={"public_id": attachment_id})}
    if thumbnail:
        urls["thumbnail_url"] = reverse("attachment-thumbnail", kwargs={"public_id": attachment_id})
    return urls


def attachments_for_customer(attachments: list[dict[str, Any]], *, customer_key: UUID) -> list[dict[str, Any]]:
    """The frame's attachments as the customer's own sockets get them: URLs with their token."""
    result = []
    for item in attachments:
        token = attachment_customer_token(attachment_id=item["id"], customer_key=customer_key)
        item = dict(item)
        for key in ("url", "thumbnail_url"):
            if key in item:
                item[key] = f"{item[key]}?token={token}"
        result.append(item)
    return result
