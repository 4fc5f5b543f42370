"""Admin for handoff configuration (teams, queues, capacity, saved replies) and the handoff log."""

from __future__ import annotations

from django.contrib import admin

from conversations.models import AgentProfile, CannedResponse, Handoff, HandoffEvent, InternalNote, Queue, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_names")
    filter_horizontal = ("members",)

    @admin.display(description="Members")
    def member_names(self, team: Team) -> str:
        return ", ".join(u.first_name or u.username for u in team.members.all())


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default", "hours", "timezone", "sla_minutes", "escalate_minutes")
    filter_horizontal = ("teams",)
    fieldsets = (
        (None, {"fields": ("name", "teams", "is_default")}),
        (
            "Routing",
            {
                "fields": ("keywords", "categories", "reasons"),
                "description": "A handoff goes to the queue that matches best: reasons count 3, knowledge "
                "categories 2, each keyword 1. No match: the default queue.",
            },
        ),
        ("Service levels", {"fields": ("sla_minutes", "escalate_minutes", "hours", "timezone")}),
    )


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "presence", "capacity", "socket_seen_at", "last_assigned_at")
    list_editable = ("capacity",)
    readonly_fields = ("socket_seen_at", "last_assigned_at")


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title")
    search_fields = ("shortcut", "title", "text")


class HandoffEventInline(admin.TabularInline):
    model = HandoffEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "kind", "actor", "detail")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    """The log of handoffs: read-only here; agents work them in the inbox."""

    list_display = ("created_at", "reason", "status", "queue", "assignee", "sla_stage", "after_hours")
    list_filter = ("status", "reason", "queue", "after_hours")
    readonly_fields = [f.name for f in Handoff._meta.fields]
    inlines = [HandoffEventInline]
    list_select_related = ("queue", "assignee")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(InternalNote)
class InternalNoteAdmin(admin.ModelAdmin):
    list_display = ("created_at", "conversation", "author")
    readonly_fields = ("conversation", "author", "text", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
