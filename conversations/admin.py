import hashlib

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from conversations.chat.site_identity import ROTATE_PERMISSION, site_identity_secret_rotate
from conversations.models import (
    ActionAttempt,
    ActionCall,
    Conversation,
    CsatRating,
    Customer,
    Message,
    ModelCall,
    WidgetSite,
)
from conversations.privacy.erasure import ERASE_PERMISSION
from conversations.privacy.export import EXPORT_PERMISSION


@admin.register(WidgetSite)
class WidgetSiteAdmin(admin.ModelAdmin):
    """The identity secret is never shown or edited here: the page shows a fingerprint, and a new
    secret comes only from the rotate action (rotate_identity_secret permission), shown once."""

    list_display = ("name", "key", "origins", "bot_enabled", "created_at")
    search_fields = ("name", "key")
    readonly_fields = ("created_at", "identity_secret_masked", "previous_identity_secret_status")
    actions = ["rotate_identity_secret"]
    fieldsets = (
        (None, {"fields": ("name", "key", "allowed_origins", "greeting")}),
        ("Bot and routing", {"fields": ("bot_enabled", "handoff_when_bot_off")}),
        ("Privacy", {"fields": ("retention_days",)}),
        ("Look", {"fields": ("accent_color", "launcher_position")}),
        ("Attachments", {"fields": ("attachments_max_mb", "attachments_allowed_types")}),
        (
            "Signed identity",
            {
                "fields": ("identity_secret_masked", "previous_identity_secret_status", "accept_unexpiring_signatures"),
                "description": "Your server signs each logged-in user's id and an expiry with this secret "
                "(hex HMAC-SHA256); see docs/protocol.md. To get a new secret, select the site in the list "
                "and run “Rotate the identity secret”: it is shown once.",
            },
        ),
    )

    @admin.display(description="Allowed origins")
    def origins(self, site: WidgetSite) -> str:
        return ", ".join(site.allowed_origins)

    @admin.display(description="Identity secret")
    def identity_secret_masked(self, site: WidgetSite) -> str:
        if not site.pk:
            return "generated when the site is saved; rotate it to see it"
        return f"hidden (fingerprint {_fingerprint(site.identity_secret)})"

    @admin.display(description="Previous secret")
    def previous_identity_secret_status(self, site: WidgetSite) -> str:
        until = site.previous_identity_secret_valid_until
        if not site.previous_identity_secret or until is None or until <= timezone.now():
            return "none accepted"
        return (
            f"fingerprint {_fingerprint(site.previous_identity_secret)}, still accepted until "
            f"{until:%Y-%m-%d %H:%M} UTC"
        )

    def has_rotate_identity_secret_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ROTATE_PERMISSION)

    @admin.action(
        description="Rotate the identity secret (shows the new one once)", permissions=["rotate_identity_secret"]
    )
    def rotate_identity_secret(self, request: HttpRequest, queryset: QuerySet[WidgetSite]) -> TemplateResponse:
        rotated = []
        for site in queryset.order_by("name"):
            secret = site_identity_secret_rotate(site_id=site.pk, actor=request.user)
            self.log_change(request, site, "Rotated the identity secret.")
            rotated.append({"site": site, "secret": secret, "fingerprint": _fingerprint(secret)})
        response = TemplateResponse(
            request,
            "admin/conversations/widgetsite/identity_secret_rotated.html",
            {
                **self.admin_site.each_context(request),
                "title": "New identity secrets",
                "rotated": rotated,
                "grace_hours": settings.IDENTITY_SECRET_GRACE_HOURS,
                "opts": self.model._meta,
            },
        )
        add_never_cache_headers(response)  # the secret must not stay in any cache
        return response


def _fingerprint(secret: str) -> str:
    """Tells two secrets apart without revealing either."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """The page offers "Export data" and "Erase data" (conversations/privacy/admin_views.py)."""

    list_display = ("__str__", "site", "external_id", "created_at", "last_seen_at")
    list_filter = ("site",)
    search_fields = ("external_id",)
    readonly_fields = ("anonymous_id", "created_at", "last_seen_at", "erased_at")
    change_form_template = "admin/conversations/customer/change_form.html"

    def get_urls(self):
        from django.urls import path

        from conversations.privacy.admin_views import customer_erase_view, customer_export_view

        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:customer_id>/export-data/",
                wrap(lambda request, customer_id: customer_export_view(self, request, customer_id)),
                name="conversations_customer_export_data",
            ),
            path(
                "<int:customer_id>/erase-data/",
                wrap(lambda request, customer_id: customer_erase_view(self, request, customer_id)),
                name="conversations_customer_erase_data",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, **kwargs):
        context.update(
            can_export_data=request.user.has_perm(EXPORT_PERMISSION),
            can_erase_data=request.user.has_perm(ERASE_PERMISSION),
        )
        return super().render_change_form(request, context, *args, **kwargs)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("seq", "role", "text", "author", "created_at")
    readonly_fields = fields
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None) -> bool:  # the transcript is append-only via the chat
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("public_id", "site", "customer", "status", "queue", "assignee", "last_message_at", "csat_score")
    list_filter = ("status", "site", "queue", "handoff_reason", "resolution_reason")
    search_fields = ("public_id",)
    readonly_fields = ("public_id", "last_seq", "created_at", "updated_at", "last_message_at", "resolved_at")
    inlines = [MessageInline]
    list_select_related = ("site", "customer", "assignee")


class ActionAttemptInline(admin.TabularInline):
    model = ActionAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["started_at", "duration_ms", "http_status", "outcome", "error_code", "replayed"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CsatRating)
class CsatRatingAdmin(admin.ModelAdmin):
    list_display = ["resolved_at", "score", "agent", "conversation", "rated_at"]
    list_filter = ["score"]
    readonly_fields = ["conversation", "resolved_at", "agent", "score", "comment", "rated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ActionCall)
class ActionCallAdmin(admin.ModelAdmin):
    list_display = ["proposed_at", "tool", "status", "conversation", "customer_id", "decided_by"]
    list_filter = ["status", "tool"]
    readonly_fields = [
        "public_id",
        "conversation",
        "tool",
        "arguments",
        "summary",
        "status",
        "idempotency_key",
        "customer_id",
        "result",
        "error_code",
        "proposed_at",
        "expires_at",
        "decided_at",
        "decided_by",
        "execution_lease_until",
    ]
    inlines = [ActionAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ModelCall)
class ModelCallAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "model",
        "outcome",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "ttft_ms",
        "total_ms",
    ]
    list_filter = ["model", "outcome", "prompt_version"]
    readonly_fields = [f.name for f in ModelCall._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# Handoff configuration and log live with the handoff package.
from conversations.gaps import admin as gaps_admin  # noqa: E402,F401
from conversations.handoff import admin as handoff_admin  # noqa: E402,F401
