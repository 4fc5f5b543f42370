from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from guardrails.models import GuardrailEvent, PiiVaultEntry
from guardrails.pii.vault import vault_values
from guardrails.services import guardrail_event_record


@admin.register(GuardrailEvent)
class GuardrailEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "action", "conversation", "actor"]
    list_filter = ["kind", "action"]
    date_hierarchy = "created_at"
    readonly_fields = ["kind", "action", "conversation", "site", "actor", "detail", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PiiVaultEntry)
class PiiVaultEntryAdmin(admin.ModelAdmin):
    """The vault lists placeholders only. Revealing originals needs guardrails.reveal_pii and
    leaves a GuardrailEvent naming who saw what."""

    list_display = ["placeholder", "entity_type", "conversation", "created_at", "expires_at"]
    list_filter = ["entity_type"]
    search_fields = ["conversation__public_id", "placeholder"]
    readonly_fields = ("placeholder", "entity_type", "conversation", "created_at", "expires_at")
    fields = readonly_fields
    actions = ["reveal"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Reveal the original values (audited)", permissions=["reveal"])
    def reveal(self, request, queryset):
        if not request.user.has_perm("guardrails.reveal_pii"):
            raise PermissionDenied
        rows = []
        for conversation_id in sorted(set(queryset.values_list("conversation_id", flat=True))):
            placeholders = set(queryset.filter(conversation_id=conversation_id).values_list("placeholder", flat=True))
            values = vault_values(conversation_id=conversation_id, placeholders=placeholders)
            guardrail_event_record(
                kind=GuardrailEvent.Kind.PII_REVEALED,
                action=GuardrailEvent.Action.REVEALED,
                conversation_id=conversation_id,
                actor=request.user,
                detail={"placeholders": sorted(placeholders)},
            )
            rows += [
                (conversation_id, placeholder, values.get(placeholder, "(expired)"))
                for placeholder in sorted(placeholders)
            ]
        messages.info(request, f"Revealed {len(rows)} value(s); this was recorded in the guardrail events.")
        return TemplateResponse(
            request,
            "admin/guardrails/reveal.html",
            {**self.admin_site.each_context(request), "rows": rows, "title": "Revealed values"},
        )

    def has_reveal_permission(self, request) -> bool:
        return request.user.has_perm("guardrails.reveal_pii")
