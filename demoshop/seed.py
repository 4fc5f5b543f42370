"""Generated demo data: customers, products and orders in every state. Deterministic (seeded),
made up from word lists here, never copied from any dataset."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from demoshop.models import Order, OrderItem, Product, ShopCustomer

_FIRST = ["Maya", "Jonas", "Priya", "Tomas", "Lena", "Omar", "Grace", "Mateo", "Ines", "Kofi"]
_LAST = ["Okafor", "Lindqvist", "Raman", "Novak", "Brandt", "Haddad", "Whitfield", "Moreau", "Castillo", "Mensah"]
_STREETS = ["Juniper Lane", "Harbor View Road", "Elm Street", "Quarry Hill Drive", "Birch Avenue", "Canal Way"]
_CITIES = [
    ("Portland", "OR", "97205"),
    ("Madison", "WI", "53703"),
    ("Austin", "TX", "78701"),
    ("Burlington", "VT", "05401"),
]
_PRODUCTS = [
    ("TENT-2P", "Ridgeline 2-person tent", "249.00"),
    ("BAG-30L", "Summit 30L daypack", "89.00"),
    ("JKT-RAIN-M", "Stormshell rain jacket (M)", "159.00"),
    ("BOOT-42", "Trailrunner boots (EU 42)", "139.00"),
    ("STOVE-1", "Pocket camping stove", "49.50"),
    ("LAMP-H", "Headlamp 400 lm", "34.90"),
    ("SLEEP-3S", "Three-season sleeping bag", "179.00"),
    ("MUG-TI", "Titanium mug", "24.00"),
]
# The first demo customer has an order in every state, so every flow can be tried in `make run`.
_STATES = ["pending", "processed", "shipped", "delivered", "cancelled", "returned"]


def _address(rng: random.Random) -> str:
    city, state, zip_code = rng.choice(_CITIES)
    return f"{rng.randint(10, 980)} {rng.choice(_STREETS)}, {city}, {state} {zip_code}"


@transaction.atomic
def demoshop_seed(*, customers: int = 6, seed: int = 2026) -> int:
    """Create the demo shop's data unless it exists; returns the number of orders created."""
    if ShopCustomer.objects.exists():
        return 0
    rng = random.Random(seed)
    products = [Product.objects.create(sku=sku, name=name, price=Decimal(price)) for sku, name, price in _PRODUCTS]
    now = timezone.now()
    number = 100040
    created = 0
    for n in range(customers):
        first, last = _FIRST[n % len(_FIRST)], _LAST[(n * 3) % len(_LAST)]
        customer = ShopCustomer.objects.create(
            external_id=f"cust_{1001 + n}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}@example.com",
            phone=f"+1 555 01{n:02d} {rng.randint(1000, 9999)}",
            address=_address(rng),
        )
        states = _STATES if n == 0 else rng.sample(_STATES, k=3)
        for state in states:
            number += rng.randint(1, 9)
            placed = now - timedelta(days={"pending": 0, "processed": 1, "shipped": 3}.get(state, rng.randint(8, 25)))
            order = Order.objects.create(
                number=f"SB-{number}",
                customer=customer,
                status=state,
                shipping_address=customer.address,
                placed_at=placed,
                carrier="UPS" if state in ("shipped", "delivered", "returned") else "",
                tracking_number=f"1Z{rng.randint(10**15, 10**16 - 1)}"
                if state in ("shipped", "delivered", "returned")
                else "",
                delivered_at=placed + timedelta(days=4) if state in ("delivered", "returned") else None,
            )
            for product in rng.sample(products, k=rng.randint(1, 3)):
                OrderItem.objects.create(
                    order=order, product=product, quantity=rng.randint(1, 2), unit_price=product.price
                )
            if state == "returned":
                order.refunded_amount = order.total
                order.save(update_fields=["refunded_amount"])
            created += 1
    return created
