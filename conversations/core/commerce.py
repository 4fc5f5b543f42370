"""The client for the company's order/account API (docs/commerce-api.md): the one module that
talks to it. Async httpx with a timeout per call; reads are retried once on a network error or a
5xx, writes twice, always with the same Idempotency-Key so the API applies them at most once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)


# The shop's order-state rules, one definition for the bot's tools (which refuse a change the state
# does not allow) and the offline responder (which offers only the orders a request fits).
CHANGEABLE_STATES: dict[str, frozenset[str]] = {
    "cancel_order": frozenset({"pending", "processed"}),
    "change_order_address": frozenset({"pending", "processed"}),
    "return_order": frozenset({"delivered"}),
}
# Not delivered yet: the orders "where is my order?" is about.
IN_FLIGHT_STATES = frozenset({"pending", "processed", "shipped"})


class CommerceError(Exception):
    """A documented API error: not_found, not_allowed_in_state, validation, unavailable."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class WriteOutcome:
    body: dict[str, Any]
    status: int
    duration_ms: float
    replayed: bool


def order_number_valid(number: str) -> bool:
    return re.fullmatch(settings.COMMERCE_ORDER_NUMBER_PATTERN, number) is not None


def _segment(value: str) -> str:
    # Percent-encoded as one path segment; "." and ".." would still move up the path, so they
    # are refused even if an operator's pattern lets them through.
    if value in {".", ".."}:
        raise CommerceError("validation", "not an identifier")
    return quote(value, safe="")


def _order_path(number: str) -> str:
    # A number like "../customers/x" must not reach another endpoint of the API.
    if not order_number_valid(number):
        raise CommerceError("validation", "not an order number")
    return f"orders/{_segment(number)}"


def _customer_path(customer_id: str) -> str:
    if re.fullmatch(settings.COMMERCE_CUSTOMER_ID_PATTERN, customer_id) is None:
        raise CommerceError("validation", "not a customer id")
    return f"customers/{_segment(customer_id)}"


def _client() -> httpx.AsyncClient:
    if not settings.COMMERCE_API_URL:
        raise CommerceError("unavailable", "COMMERCE_API_URL is not configured")
    return httpx.AsyncClient(
        base_url=settings.COMMERCE_API_URL + "/",
        timeout=settings.COMMERCE_TIMEOUT_SECONDS,
        headers={"Authorization": f"Bearer {settings.COMMERCE_API_KEY}", "Accept": "application/json"},
    )


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        code, message = ("unavailable", f"HTTP {response.status_code}")
    if response.status_code >= 500:
        code = "unavailable"
    raise CommerceError(code, message, response.status_code)


async def _get(path: str) -> dict[str, Any]:
    for attempt in range(2):
        try:
            async with _client() as client:
                response = await client.get(path)
            if response.status_code >= 500 and attempt == 0:
                continue
            _raise_for(response)
            return response.json()
        except httpx.HTTPError as error:
            if attempt == 0:
                await asyncio.sleep(0.2)
                continue
            raise CommerceError("unavailable", f"{type(error).__name__}") from None
    raise CommerceError("unavailable", "the API kept failing")


# Pauses before the second and third try of a write whose answer never came.
WRITE_RETRY_DELAYS = (0.5, 1.5)


async def _write(method: str, path: str, *, json: dict[str, Any], idempotency_key: str) -> WriteOutcome:
    """Send a write; when no answer comes back (a timeout, a dropped connection, a 5xx), send it
    again with the same Idempotency-Key. That is what the key is for: the API applies the change
    at most once and replays its first answer, so a retry can finish a change but never repeat it."""
    started = time.perf_counter()
    for delay in (*WRITE_RETRY_DELAYS, None):
        try:
            async with _client() as client:
                response = await client.request(method, path, json=json, headers={"Idempotency-Key": idempotency_key})
            if response.status_code < 500:
                break
            failure = f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            failure = type(error).__name__
        if delay is None:
            raise CommerceError("unavailable", failure)
        logger.warning(
            "commerce write %s %s got no answer (%s); retrying with the same idempotency key", method, path, failure
        )
        await asyncio.sleep(delay)
    _raise_for(response)
    return WriteOutcome(
        body=response.json(),
        status=response.status_code,
        duration_ms=(time.perf_counter() - started) * 1000,
        replayed=response.headers.get("Idempotent-Replay") == "true",
    )


async def customer_get(customer_id: str) -> dict[str, Any]:
    return await _get(_customer_path(customer_id))


async def customer_orders_list(customer_id: str) -> list[dict[str, Any]]:
    return (await _get(f"{_customer_path(customer_id)}/orders"))["orders"]


async def order_get(number: str) -> dict[str, Any]:
    return await _get(_order_path(number))


async def customer_verify(*, order_number: str, email: str) -> str | None:
    """The customer id owning this order if the email matches, else None. A read in effect, sent
    as POST so the email is never in a URL (and so never in an access log)."""
    if not order_number_valid(order_number):
        raise CommerceError("validation", "not an order number")
    try:
        async with _client() as client:
            response = await client.post("verifications", json={"order_number": order_number, "email": email})
    except httpx.HTTPError as error:
        raise CommerceError("unavailable", f"{type(error).__name__}") from None
    if response.status_code == 404:
        return None
    _raise_for(response)
    return str(response.json()["customer_id"])


async def order_cancel(*, number: str, idempotency_key: str) -> WriteOutcome:
    return await _write("POST", f"{_order_path(number)}/cancel", json={}, idempotency_key=idempotency_key)


async def order_return(*, number: str, reason: str, idempotency_key: str) -> WriteOutcome:
    return await _write(
        "POST", f"{_order_path(number)}/returns", json={"reason": reason}, idempotency_key=idempotency_key
    )


async def order_shipping_address_change(*, number: str, address: str, idempotency_key: str) -> WriteOutcome:
    return await _write(
        "PUT", f"{_order_path(number)}/shipping-address", json={"address": address}, idempotency_key=idempotency_key
    )


async def customer_address_change(*, customer_id: str, address: str, idempotency_key: str) -> WriteOutcome:
    return await _write(
        "PUT", f"{_customer_path(customer_id)}/address", json={"address": address}, idempotency_key=idempotency_key
    )
