"""Side panels loaded after the page (hx-trigger="load"), so a slow order system or a cold
embedding model never delays the conversation itself."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.core import commerce
from conversations.inbox.views import agent_required, conversation_or_404
from conversations.models import Message
from guardrails.services import tool_result_redact
from knowledge.selectors import knowledge_search

SUGGESTIONS = 3
SNIPPET_CHARS = 400


@require_GET
@agent_required
def inbox_orders(request: HttpRequest, public_id: UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    customer_id = conversation.customer.external_id or conversation.verified_customer_id
    context: dict[str, Any] = {"customer_id": customer_id, "orders": [], "account": None, "error": ""}
    if customer_id:
        try:
            account = async_to_sync(commerce.customer_get)(customer_id)
            orders = async_to_sync(commerce.customer_orders_list)(customer_id)
        except commerce.CommerceError as error:
            context["error"] = "not_found" if getattr(error, "code", "") == "not_found" else "unavailable"
        else:
            # Agents see placeholders, as in the transcript (the same value gets the same
            # placeholder as in the chat); the values stay in the vault, and revealing them is
            # the audited admin action (guardrails.reveal_pii).
            context["account"] = tool_result_redact(conversation_id=conversation.pk, data=account)
            context["orders"] = tool_result_redact(conversation_id=conversation.pk, data=orders)
    return render(request, "inbox/_orders.html", context)


@require_GET
@agent_required
def inbox_suggestions(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Knowledge passages for the customer's latest question, internal articles included (the
    agent decides what to send)."""
    conversation = conversation_or_404(request, public_id)
    question = (
        Message.objects.filter(conversation=conversation, role=Message.Role.CUSTOMER)
        .order_by("-seq")
        .values_list("text", flat=True)
        .first()
    )
    suggestions = []
    if question:
        retrieval = knowledge_search(
            question=re.sub(r"<[A-Z_]+_\d+>", " ", question), audience="agent", k=SUGGESTIONS, max_per_article=1
        )
        suggestions = [
            {
                "title": c.article_title,
                "heading": c.heading_path,
                "url": c.url,
                "score": c.score,
                "text": c.text[:SNIPPET_CHARS],
            }
            for c in retrieval.chunks
        ]
    return render(request, "inbox/_suggestions.html", {"suggestions": suggestions, "question": question})
