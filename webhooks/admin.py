"""Webhook endpoints and the delivery log in the admin.

The signing secret is shown once: on the page that follows creating an endpoint, and after the
rotate action (its own permission). Change pages show only a fingerprint.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from webhooks import services
from webhooks.models import EVENT_CHOICES, WebhookDelivery, WebhookEndpoint
from webhooks.signing import secret_fingerprint

SECRET_TEMPLATE = "admin/webhooks/webhookendpoint/secret_shown.html"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000, assume_scheme="https", help_text=WebhookEndpoint._meta.get_field("url").help_text
    )
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["site", "url", "description", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "site", "is_active", "event_list", "breaker", "created_at")
    list_filter = ("is_active", "site")
    search_fields = ("url", "description")
    readonly_fields = ("secret_status", "previous_secret_status", "breaker", "created_at", "updated_at")
    actions = ["rotate_secret", "reset_breaker"]
    fieldsets = (
        (None, {"fields": ("site", "url", "description", "events", "is_active")}),
        (
            "Signing",
            {
                "fields": ("secret_status", "previous_secret_status"),
                "description": "Each request is signed with HMAC-SHA256 (docs/webhooks.md). The secret is "
                "shown once, after the endpoint is created; “Rotate the signing secret” in the list "
                "makes a new one and shows it once.",
            },
        ),
        ("Delivery", {"fields": ("breaker", "created_at", "updated_at")}),
    )

    @admin.display(description="Events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description="Secret")
    def secret_status(self, endpoint: WebhookEndpoint) -> str:
        if not endpoint.pk:
            return "generated when the endpoint is saved, and shown once then"
        return f"hidden (fingerprint {endpoint.secret_fingerprint})"

    @admin.display(description="Previous secret")
    def previous_secret_status(self, endpoint: WebhookEndpoint) -> str:
        until = endpoint.previous_secret_valid_until
        if endpoint.previous_secret_ciphertext is None or until is None or until <= timezone.now():
            return "none signs"
        return f"still signs alongside the new one until {until:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="Circuit breaker")
    def breaker(self, endpoint: WebhookEndpoint) -> str:
        until = endpoint.circuit_open_until
        if until is not None and until > timezone.now():
            return (
                f"open after {endpoint.consecutive_failures} failures in a row: nothing is sent until "
                f"{until:%Y-%m-%d %H:%M:%S} UTC, deliveries wait"
            )
        if until is not None:
            return "cooled down: the next delivery is a trial"
        return f"closed ({endpoint.consecutive_failures} failures in a row)"

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            # Carried on the request to response_add, which shows it once; it is never stored in clear.
            setattr(request, "_webhook_secret", services.webhook_endpoint_secret_assign(endpoint=obj))
        super().save_model(request, obj, form, change)
        services.webhook_endpoint_saved(endpoint=obj)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        super().delete_model(request, obj)
        services.webhook_endpoint_deleted()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        super().delete_queryset(request, queryset)
        services.webhook_endpoint_deleted()

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secrets_page(
            request, [{"endpoint": obj, "secret": secret, "fingerprint": obj.secret_fingerprint}], created=True
        )

    def has_rotate_secret_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.ROTATE_PERMISSION)

    @admin.action(description="Rotate the signing secret (shows the new one once)", permissions=["rotate_secret"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> HttpResponse:
        rotated = []
        for endpoint in queryset.order_by("pk"):
            secret = services.webhook_endpoint_secret_rotate(endpoint_id=endpoint.pk, actor=request.user)
            self.log_change(request, endpoint, "Rotated the signing secret.")
            rotated.append({"endpoint": endpoint, "secret": secret, "fingerprint": secret_fingerprint(secret)})
        return self._secrets_page(request, rotated, created=False)

    @admin.action(description="Close the circuit breaker (the receiver is fixed)", permissions=["change"])
    def reset_breaker(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        waiting = sum(
            services.webhook_endpoint_breaker_reset(endpoint_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request, f"Breaker closed; {waiting} waiting deliveries go out within seconds.", messages.SUCCESS
        )

    def _secrets_page(self, request: HttpRequest, rows: list[dict], *, created: bool) -> TemplateResponse:
        response = TemplateResponse(
            request,
            SECRET_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "title": "Webhook signing secrets",
                "rows": rows,
                "created": created,
                "grace_hours": settings.WEBHOOK_SECRET_GRACE_HOURS,
                "opts": self.model._meta,
            },
        )
        add_never_cache_headers(response)  # the secret must not stay in any cache
        return response


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    search_fields = ("event_id",)
    list_select_related = ("endpoint",)
    readonly_fields = (
        "endpoint",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "lease_until",
        "delivered_at",
        "history",
        "created_at",
    )
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log is written by deliveries only; retry is an action

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Retry the selected deliveries now", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = services.webhook_deliveries_retry(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliveries queued for another attempt.", messages.SUCCESS)
