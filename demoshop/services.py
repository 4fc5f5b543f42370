"""The demo shop's business rules: which order may be cancelled, returned or re-addressed."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from demoshop.models import Order, ShopCustomer


class ShopError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _locked_order(number: str) -> Order:
    try:
        return Order.objects.select_for_update().get(number=number)
    except Order.DoesNotExist:
        raise ShopError("not_found", f"no order {number}", 404) from None


def _valid_address(address: object) -> str:
    if not isinstance(address, str) or not 5 <= len(address.strip()) <= 300:
        raise ShopError("validation", "address must be a string of 5 to 300 characters", 422)
    return address.strip()


@transaction.atomic
def order_cancel(*, number: str) -> Order:
    order = _locked_order(number)
    if order.status not in (Order.Status.PENDING, Order.Status.PROCESSED):
        raise ShopError("not_allowed_in_state", f"a {order.status} order cannot be cancelled", 409)
    order.status = Order.Status.CANCELLED
    order.save(update_fields=["status"])
    return order


@transaction.atomic
def order_return(*, number: str, reason: str) -> tuple[Order, Decimal]:
    order = _locked_order(number)
    if order.status != Order.Status.DELIVERED:
        raise ShopError("not_allowed_in_state", f"a {order.status} order cannot be returned", 409)
    refund = order.total - order.refunded_amount
    order.status = Order.Status.RETURNED
    order.refunded_amount = order.total
    order.save(update_fields=["status", "refunded_amount"])
    return order, refund


@transaction.atomic
def order_shipping_address_change(*, number: str, address: object) -> Order:
    order = _locked_order(number)
    if order.status not in (Order.Status.PENDING, Order.Status.PROCESSED):
        raise ShopError("not_allowed_in_state", f"the address of a {order.status} order cannot change", 409)
    order.shipping_address = _valid_address(address)
    order.save(update_fields=["shipping_address"])
    return order


@transaction.atomic
def customer_address_change(*, external_id: str, address: object) -> ShopCustomer:
    try:
        customer = ShopCustomer.objects.select_for_update().get(external_id=external_id)
    except ShopCustomer.DoesNotExist:
        raise ShopError("not_found", f"no customer {external_id}", 404) from None
    customer.address = _valid_address(address)
    customer.save(update_fields=["address"])
    return customer
