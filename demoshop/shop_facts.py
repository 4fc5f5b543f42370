"""The demo shop's facts that fill the slots of the shipped conversation tests (`manage.py
bot_eval`): an order per (customer, status), each customer's email, and the demo articles' slugs."""

from __future__ import annotations

from conversations.evaluation.player import ShopFacts
from demoshop.models import Order, ShopCustomer
from knowledge.models import Article


def shop_facts_load() -> ShopFacts:
    """The demo shop's orders and emails (for slots) and the article titles."""
    orders: dict[tuple[str, str], str] = {}
    for number, customer, status in Order.objects.order_by("placed_at", "number").values_list(
        "number", "customer__external_id", "status"
    ):
        orders.setdefault((customer, status), number)
    emails = dict(ShopCustomer.objects.values_list("external_id", "email"))
    slugs = dict(Article.objects.values_list("title", "slug"))
    return ShopFacts(orders=orders, emails=emails, slugs_by_title=slugs)
