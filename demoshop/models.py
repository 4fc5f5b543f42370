"""The demo shop's own tables: a stand-in for the company's order and account system.

These tables belong to "the company", not to supportbot: they hold customer names and addresses in
clear, as any shop's database does. supportbot only ever reaches them over HTTP through
conversations.core.commerce, like any real API, and redacts what comes back.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class ShopCustomer(models.Model):
    external_id = models.CharField(max_length=32, unique=True)  # the id the shop signs into the widget
    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField()

    def __str__(self) -> str:
        return self.external_id


class Product(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return self.sku


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"
        RETURNED = "returned"

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(ShopCustomer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=12, choices=Status.choices)
    currency = models.CharField(max_length=3, default="USD")
    shipping_address = models.TextField()
    carrier = models.CharField(max_length=40, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    placed_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return self.number

    @property
    def total(self) -> Decimal:
        return sum((item.unit_price * item.quantity for item in self.items.all()), Decimal("0"))


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)


class IdempotentResponse(models.Model):
    """The stored answer to a write call, replayed when the same Idempotency-Key comes again."""

    key = models.CharField(max_length=120, unique=True)
    request_fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
