"""Staff views of panels (editable) and of conversations and runs (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from chat.models import Conversation, Panel, Run, SeatAnswer, Turn


@admin.register(Panel)
class PanelAdmin(admin.ModelAdmin):
    list_display = ["name", "is_preset", "owner", "judge", "writer", "web_search", "position"]
    list_filter = ["is_preset", "web_search"]
    search_fields = ["name", "judge"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """What runs say is a record: staff may read it, never rewrite it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TurnInline(admin.TabularInline):
    model = Turn
    fields = ["position", "prompt", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "owner", "created_at", "updated_at"]
    search_fields = ["title", "owner__username"]
    inlines = [TurnInline]


class SeatAnswerInline(admin.StackedInline):
    model = SeatAnswer
    fields = [
        "index",
        "model",
        "status",
        "error",
        "text",
        "reasoning",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "ttft_ms",
        "duration_ms",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "turn", "panel_name", "status", "stage", "cost", "started_at"]
    list_filter = ["status", "simulated"]
    search_fields = ["turn__prompt", "turn__conversation__owner__username"]
    inlines = [SeatAnswerInline]
