"""The Customer page's "Export data" and "Erase data" (conversations/admin.py wires the URLs).
Thin: the permission is checked here for the buttons and again by the services."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from conversations.models import Customer, Message
from conversations.privacy.erasure import ERASE_PERMISSION, ERASED_TEXT, customer_data_erase
from conversations.privacy.export import EXPORT_PERMISSION, customer_data_export
from conversations.privacy.subjects import data_subject_for_customer
from guardrails.models import PiiVaultEntry


def customer_export_view(model_admin: admin.ModelAdmin, request: HttpRequest, customer_id: int) -> HttpResponse:
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    customer = get_object_or_404(Customer.objects.select_related("site"), pk=customer_id)
    document = customer_data_export(subject=data_subject_for_customer(customer=customer), actor=request.user)
    response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.json"'
    add_never_cache_headers(response)  # personal data: no cache may keep it
    return response


def customer_erase_view(model_admin: admin.ModelAdmin, request: HttpRequest, customer_id: int) -> HttpResponse:
    if not request.user.has_perm(ERASE_PERMISSION):
        raise PermissionDenied
    customer = get_object_or_404(Customer.objects.select_related("site"), pk=customer_id)
    if request.method == "POST":
        result = customer_data_erase(subject=data_subject_for_customer(customer=customer), actor=request.user)
        customer.refresh_from_db()
        model_admin.log_change(request, customer, "Erased the customer's personal data.")
        messages.success(
            request,
            f"Erased: {result.conversations} conversation(s), {result.messages} message "
            f"text(s), {result.vault_entries} vault value(s).",
        )
        return HttpResponseRedirect(reverse("admin:conversations_customer_change", args=[customer.pk]))
    conversation_ids = list(customer.conversations.values_list("pk", flat=True))
    return TemplateResponse(
        request,
        "admin/conversations/customer/erase_confirm.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Erase customer data",
            "customer": customer,
            "opts": model_admin.model._meta,
            "conversations": len(conversation_ids),
            "erased_text": ERASED_TEXT,
            "message_count": Message.objects.filter(conversation_id__in=conversation_ids).count(),
            "vault_entries": PiiVaultEntry.objects.filter(conversation_id__in=conversation_ids).count(),
        },
    )
