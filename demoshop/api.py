"""The commerce API contract (docs/commerce-api.md) served over HTTP from the demo shop's tables.

Bearer-token auth; JSON errors `{"error": {"code", "message"}}` with codes not_found,
not_allowed_in_state, validation, unauthorized; write calls honour an Idempotency-Key header (the
same key replays the stored response, a different body under the same key is a validation error).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from demoshop import services
from demoshop.models import IdempotentResponse, Order, ShopCustomer
from demoshop.services import ShopError


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _order_json(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "customer_id": order.customer.external_id,
        "status": order.status,
        "placed_at": order.placed_at.isoformat(),
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
        "items": [
            {"sku": i.product.sku, "name": i.product.name, "quantity": i.quantity, "unit_price": str(i.unit_price)}
            for i in order.items.select_related("product")
        ],
        "total": str(order.total),
        "refunded_amount": str(order.refunded_amount),
        "currency": order.currency,
        "shipping_address": order.shipping_address,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    }


def _customer_json(customer: ShopCustomer) -> dict[str, Any]:
    return {
        "id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "address": customer.address,
    }


def api_view(methods: list[str], *, write: bool = False) -> Callable:
    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @require_http_methods(methods)
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> JsonResponse:
            if not settings.DEMO_MODE:
                raise Http404("demo mode is off")
            expected = f"Bearer {settings.DEMOSHOP_API_KEY}"
            if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
                return _error("unauthorized", "missing or wrong API key", 401)
            body: dict[str, Any] = {}
            if request.body:
                try:
                    body = json.loads(request.body)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return _error("validation", "body must be JSON", 400)
                if not isinstance(body, dict):
                    return _error("validation", "body must be a JSON object", 400)
            if not write:
                try:
                    return view(request, body=body, **kwargs)
                except ShopError as error:
                    return _error(error.code, error.message, error.status)
            return _idempotent(request, view, body, kwargs)

        return wrapper

    return decorate


def _idempotent(request: HttpRequest, view: Callable, body: dict, kwargs: dict) -> JsonResponse:
    key = request.headers.get("Idempotency-Key", "")
    if not 8 <= len(key) <= 120:
        return _error("validation", "write calls need an Idempotency-Key header (8 to 120 characters)", 400)
    fingerprint = hashlib.sha256(
        f"{request.method} {request.path} {json.dumps(body, sort_keys=True)}".encode()
    ).hexdigest()
    try:
        with transaction.atomic():
            stored = IdempotentResponse.objects.select_for_update().filter(key=key).first()
            if stored is not None:
                if stored.request_fingerprint != fingerprint:
                    return _error("validation", "this Idempotency-Key was used for a different request", 422)
                response = JsonResponse(stored.body, status=stored.status)
                response["Idempotent-Replay"] = "true"
                return response
            try:
                response = view(request, body=body, **kwargs)
            except ShopError as error:
                response = _error(error.code, error.message, error.status)
            IdempotentResponse.objects.create(
                key=key, request_fingerprint=fingerprint, status=response.status_code, body=json.loads(response.content)
            )
            return response
    except IntegrityError:
        # The same key arrived twice at once: the first one's answer is the answer.
        stored = IdempotentResponse.objects.get(key=key)
        return JsonResponse(stored.body, status=stored.status)


def _customer(external_id: str) -> ShopCustomer:
    try:
        return ShopCustomer.objects.get(external_id=external_id)
    except ShopCustomer.DoesNotExist:
        raise ShopError("not_found", f"no customer {external_id}", 404) from None


def _order(number: str) -> Order:
    try:
        return Order.objects.select_related("customer").get(number=number)
    except Order.DoesNotExist:
        raise ShopError("not_found", f"no order {number}", 404) from None


@api_view(["GET"])
def customer_detail(request: HttpRequest, *, body: dict, customer_id: str) -> JsonResponse:
    return JsonResponse(_customer_json(_customer(customer_id)))


@api_view(["GET"])
def customer_orders(request: HttpRequest, *, body: dict, customer_id: str) -> JsonResponse:
    customer = _customer(customer_id)
    orders = customer.orders.order_by("-placed_at")
    return JsonResponse(
        {
            "orders": [
                {
                    "number": o.number,
                    "status": o.status,
                    "placed_at": o.placed_at.isoformat(),
                    "total": str(o.total),
                    "currency": o.currency,
                }
                for o in orders
            ]
        }
    )


@api_view(["GET"])
def order_detail(request: HttpRequest, *, body: dict, number: str) -> JsonResponse:
    return JsonResponse(_order_json(_order(number)))


@api_view(["POST"])
def verification(request: HttpRequest, *, body: dict) -> JsonResponse:
    """Does this email own this order? Answers the customer id, or not_found for any mismatch."""
    number, email = body.get("order_number"), body.get("email")
    if not isinstance(number, str) or not isinstance(email, str):
        raise ShopError("validation", "order_number and email are required strings", 422)
    order = Order.objects.select_related("customer").filter(number=number.strip().upper()).first()
    if order is None or order.customer.email.casefold() != email.strip().casefold():
        raise ShopError("not_found", "no order with this number and email", 404)
    return JsonResponse({"customer_id": order.customer.external_id})


@api_view(["POST"], write=True)
def order_cancel(request: HttpRequest, *, body: dict, number: str) -> JsonResponse:
    order = services.order_cancel(number=number)
    return JsonResponse({"order": _order_json(order)})


@api_view(["POST"], write=True)
def order_return(request: HttpRequest, *, body: dict, number: str) -> JsonResponse:
    order, refund = services.order_return(number=number, reason=str(body.get("reason") or "")[:500])
    return JsonResponse({"order": _order_json(order), "refund": {"amount": str(refund), "currency": order.currency}})


@api_view(["PUT"], write=True)
def order_shipping_address(request: HttpRequest, *, body: dict, number: str) -> JsonResponse:
    order = services.order_shipping_address_change(number=number, address=body.get("address"))
    return JsonResponse({"order": _order_json(order)})


@api_view(["PUT"], write=True)
def customer_address(request: HttpRequest, *, body: dict, customer_id: str) -> JsonResponse:
    customer = services.customer_address_change(external_id=customer_id, address=body.get("address"))
    return JsonResponse({"customer": _customer_json(customer)})
