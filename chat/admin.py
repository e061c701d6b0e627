"""Staff views of panels and endpoints (editable), of conversations and runs (read-only), and of
users' keys and API tokens (never shown: only whether a key is set, a token's prefix)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from chat.forms import key_field
from chat.models import (
    ApiToken,
    Conversation,
    EncryptedKeyMixin,
    Panel,
    ProviderEndpoint,
    Run,
    SeatAnswer,
    Turn,
    UserProviderKey,
)

# The `type: ignore[type-arg]`s below: ModelAdmin, its inlines and ModelForm are generic only in
# their stubs; at runtime they cannot be subscripted (that needs django-stubs-ext's monkeypatch).


@admin.register(Panel)
class PanelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "is_preset", "owner", "judge", "writer", "web_search", "position"]
    list_filter = ["is_preset", "web_search"]
    search_fields = ["name", "judge"]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """What runs say is a record: staff may read it, never rewrite it."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TurnInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Turn
    fields = ("position", "prompt", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "owner", "created_at", "updated_at"]
    search_fields = ["title", "owner__username"]
    inlines = [TurnInline]


class SeatAnswerInline(admin.StackedInline):  # type: ignore[type-arg]
    model = SeatAnswer
    fields = (
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
    )
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "turn", "panel_name", "status", "stage", "cost", "started_at"]
    list_filter = ["status", "simulated"]
    search_fields = ["turn__prompt", "turn__conversation__owner__username"]
    inlines = [SeatAnswerInline]


# --- Endpoints and keys: the key itself is write-only here too -----------------------------


def key_status(row: EncryptedKeyMixin) -> str:
    if not row.has_api_key:
        return "not set"
    if not row.key_is_readable():
        return "set, but unreadable with the configured encryption keys: enter it again"
    return "set"


class ProviderEndpointAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    api_key = key_field("API key")
    remove_api_key = forms.BooleanField(label="Remove the stored key", required=False)

    class Meta:
        model = ProviderEndpoint
        fields = ["name", "base_url", "owner", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["api_key"].help_text = (
            "Write-only. Leave empty to keep the stored key."
            if self.instance.has_api_key
            else "Write-only: it is stored encrypted and never shown again."
        )

    def save(self, commit: bool = True) -> ProviderEndpoint:
        endpoint: ProviderEndpoint = super().save(commit=False)
        if self.cleaned_data.get("remove_api_key"):
            endpoint.set_api_key("")
        elif self.cleaned_data.get("api_key"):
            endpoint.set_api_key(self.cleaned_data["api_key"])
        if commit:
            endpoint.save()
        return endpoint


@admin.register(ProviderEndpoint)
class ProviderEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Server-wide endpoints (no owner) for everyone; users' own endpoints are listed too."""

    form = ProviderEndpointAdminForm
    fields = ["name", "base_url", "owner", "enabled", "api_key", "remove_api_key", "key", "created_at"]
    readonly_fields = ["key", "created_at"]
    list_display = ["name", "base_url", "owner", "enabled", "key", "created_at"]
    list_filter = ["enabled", ("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "base_url", "owner__username"]

    @admin.display(description="API key")
    def key(self, row: ProviderEndpoint) -> str:
        return key_status(row)

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, *args: Any, **kwargs: Any) -> Any:
        return super().changeform_view(*args, **kwargs)


@admin.register(UserProviderKey)
class UserProviderKeyAdmin(ReadOnlyAdmin):
    """Users set their keys in Settings; staff may see that one is set, and delete it."""

    fields = ("user", "endpoint", "key", "created_at", "updated_at")
    readonly_fields = fields
    list_display = ["user", "endpoint", "key", "updated_at"]
    search_fields = ["user__username", "endpoint"]

    @admin.display(description="API key")
    def key(self, row: UserProviderKey) -> str:
        return key_status(row)


# --- API tokens: staff see and revoke them, never their secrets (only a digest is stored) --


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Users make their tokens in Settings (or `manage.py api_token`); staff may revoke one."""

    fields = (
        "user",
        "name",
        "prefix",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "allowed_models",
        "budget_usd",
    )
    readonly_fields = fields
    list_display = ["name", "user", "prefix", "status", "created_at", "last_used_at", "expires_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{revoked} token(s) revoked.")
