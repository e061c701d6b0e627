"""Forms of the chat app."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from chat.endpoints import guard
from chat.models import ApiToken, Panel, ProviderEndpoint, SpendBudget

MAX_PROMPT_CHARS = settings.FUSIONROOM_MAX_PROMPT_CHARS


class PanelSelect(forms.Select):
    """The panel picker: each option says who sits in its panel (Panel.lineup), in a tooltip and
    for the line under the picker that static/chat/misc.js keeps in step with the choice, and
    whether the panel is an Auto-fuse one (the Auto-fuse toggle beside it follows the choice)."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(name, value, *args, **kwargs)
        panel = getattr(value, "instance", None)
        if isinstance(panel, Panel):
            option["attrs"]["title"] = option["attrs"]["data-lineup"] = panel.lineup()
            option["attrs"]["data-auto-fuse"] = "true" if panel.auto_fuse else "false"
        return option


AUTO_FUSE_FIELD = "auto_fuse"


def auto_fuse_choice(data: Mapping[str, Any]) -> bool | None:
    """The composer's Auto-fuse toggle, sent as "false" then "true" when ticked (a hidden input
    before the checkbox, so an unticked box is sent too; the last value counts): True or False,
    or None when the request carries no toggle (the panel's own setting then)."""
    value = forms.NullBooleanSelect().value_from_datadict(data, MultiValueDict(), AUTO_FUSE_FIELD)
    return value if isinstance(value, bool) else None


def too_long_message(length: int) -> str:
    return (
        f"That message is {length:,} characters long, over the limit of {MAX_PROMPT_CHARS:,}: "
        "shorten it, or send it in parts."
    )


class MessageForm(forms.Form):
    # No max_length: the browser's maxlength would cut a pasted text silently. The limit is
    # checked here (clean_message) and shown by a counter (data-limit, static/chat/composer.js).
    message = forms.CharField(
        label="Message",
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "Ask the panel…",
                "autofocus": True,
                "dir": "auto",
                "data-limit": MAX_PROMPT_CHARS,
                "aria-describedby": "composer-count",
            }
        ),
        error_messages={"required": "Write a message first."},
    )
    panel = forms.ModelChoiceField(
        label="Panel",
        queryset=Panel.objects.none(),
        empty_label=None,
        widget=PanelSelect(attrs={"aria-describedby": "panel-lineup"}),
        error_messages={"invalid_choice": "Pick one of the panels in the list."},
    )

    # Auto-fuse for this message (auto_fuse_choice): the panel's writer answers and consults the
    # panel only if the question is worth it. Rendered by hand (templates/chat/chat.html).
    auto_fuse = forms.NullBooleanField(required=False, label="Auto-fuse")

    def __init__(
        self, *args: Any, user: User | AnonymousUser, panels: list[Panel] | None = None, **kwargs: Any
    ) -> None:
        """`panels`: the user's panels (Panel.objects.for_user), when the caller has read them
        already; the picker is then rendered from them. Without them, rendering the picker reads
        them twice (Django's Select asks for the first option again, for `required`)."""
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Panel]", self.fields["panel"])
        field.queryset = Panel.objects.for_user(user)  # what a sent choice is checked against
        if panels is not None:
            field.choices = [field.iterator(field).choice(panel) for panel in panels]

    def clean_auto_fuse(self) -> bool | None:
        return auto_fuse_choice(self.data)

    def clean_message(self) -> str:
        message: str = self.cleaned_data["message"]
        if len(message) > MAX_PROMPT_CHARS:
            raise forms.ValidationError(too_long_message(len(message)), code="max_length")
        return message


# --- Settings: endpoints and keys -----------------------------------------------------------


def key_field(label: str) -> forms.CharField:
    """A key is write-only: never rendered back, and blank means "keep the one stored"."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ProviderKeyForm(forms.Form):
    """The user's own key for one server endpoint."""

    api_key = key_field("Your key")

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, endpoint: str, has_key: bool, **kwargs: Any
    ) -> None:
        super().__init__(data, prefix=f"key-{endpoint}", **kwargs)
        self.endpoint = endpoint
        self.has_key = has_key
        self.fields["api_key"].label = f"Your key for {endpoint}"
        self.fields["api_key"].help_text = (
            "Leave empty to keep the key you saved." if has_key else "Paste the API key to use for your runs."
        )

    def clean_api_key(self) -> str:
        key: str = self.cleaned_data["api_key"]
        if not key and not self.has_key:
            raise forms.ValidationError("Paste a key to save it.")
        if any(character.isspace() for character in key):
            raise forms.ValidationError("A key has no spaces or line breaks in it.")
        return key


# ModelForm is generic only in its stubs: at runtime it cannot be subscripted.
class OwnEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    """A user's own OpenAI-compatible endpoint; the owner is set by the view, never by the form."""

    api_key = key_field("API key")

    class Meta:
        model = ProviderEndpoint
        fields = ["name", "base_url", "enabled"]
        labels = {"name": "Name", "base_url": "Base URL", "enabled": "Enabled"}
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "my-ollama", "autocomplete": "off"}),
            "base_url": forms.URLInput(attrs={"placeholder": "http://127.0.0.1:11434/v1"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if guard.mode() != "any":
            # Loopback and private addresses are refused here: do not suggest one.
            base_url = self.fields["base_url"]
            base_url.help_text = (
                "The OpenAI-compatible API root at a public address, e.g. https://api.groq.com/openai/v1"
            )
            base_url.widget.attrs["placeholder"] = "https://api.groq.com/openai/v1"
        if self.instance.has_api_key:
            self.fields["api_key"].help_text = "Leave empty to keep the key you saved."
        else:
            self.fields["api_key"].help_text = "Optional: a local server such as Ollama needs none."

    def clean_api_key(self) -> str:
        key: str = self.cleaned_data["api_key"]
        if any(character.isspace() for character in key):
            raise forms.ValidationError("A key has no spaces or line breaks in it.")
        return key

    def save(self, commit: bool = True) -> ProviderEndpoint:
        endpoint: ProviderEndpoint = super().save(commit=False)
        if self.cleaned_data["api_key"]:
            endpoint.set_api_key(self.cleaned_data["api_key"])
        if commit:
            endpoint.save()
        return endpoint


class BudgetForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SpendBudget
        fields = ("period", "limit_usd")
        labels = {"period": "Budget period", "limit_usd": "Budget in dollars"}
        help_texts = {"limit_usd": "Leave empty for no budget."}
        # Styled like the rest of the Settings page (static/chat/chrome.css).
        widgets = {
            "period": forms.Select(attrs={"class": "form-input"}),
            "limit_usd": forms.NumberInput(
                attrs={"class": "form-input", "inputmode": "decimal", "placeholder": "no budget"}
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["limit_usd"].required = False
        cast(forms.DecimalField, self.fields["limit_usd"]).min_value = 0

    def _post_clean(self) -> None:
        # An empty limit means "no budget": nothing to validate on the model.
        if self.cleaned_data.get("limit_usd") is not None:
            super()._post_clean()  # type: ignore[misc]  # BaseModelForm has it; its stubs do not


# --- Settings: API tokens -------------------------------------------------------------------

MAX_TOKEN_DAYS = 3650
MAX_ALLOWED_MODELS = 100


class ApiTokenForm(forms.Form):
    """A new API token: Settings and `manage.py api_token create` both fill this form."""

    name = forms.CharField(
        label="Name",
        max_length=80,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "laptop", "autocomplete": "off"}),
        help_text="Says where the token is used; runs started with it show this name in your history.",
        error_messages={"required": "Give the token a name, e.g. laptop or ci."},
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
        help_text="Empty: never.",
    )
    allowed_models = forms.CharField(
        label="Allowed models",
        required=False,
        max_length=4000,
        strip=True,
        widget=forms.TextInput(
            attrs={"placeholder": "fusion, fusion/budget, openai/gpt-5.5", "autocomplete": "off"}
        ),
        help_text="Model ids as /v1/models lists them, separated by commas. Empty: every model you can use.",
    )
    budget_usd = forms.DecimalField(
        label="Budget (USD)",
        required=False,
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
        help_text="What this token's runs may cost in all. Your own spend budget applies as well.",
    )

    def __init__(self, data: Mapping[str, Any] | None = None, *, user: User, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        # Revoking by name (manage.py api_token revoke) must find one token.
        if ApiToken.objects.filter(user=self.user, revoked_at__isnull=True, name=name).exists():
            raise forms.ValidationError(f"You already have a token called {name!r}: pick another name.")
        return name

    def clean_allowed_models(self) -> list[str]:
        raw: str = self.cleaned_data["allowed_models"]
        models = list(dict.fromkeys(item for item in raw.replace(",", " ").split() if item))
        if len(models) > MAX_ALLOWED_MODELS:
            raise forms.ValidationError(f"At most {MAX_ALLOWED_MODELS} models.")
        if too_long := [model for model in models if len(model) > 200]:
            raise forms.ValidationError(f"{too_long[0][:40]}… is not a model id (too long).")
        return models

    def issue(self) -> tuple[ApiToken, str]:
        """The new token and its secret (call after is_valid); the secret is never stored."""
        days = self.cleaned_data["expires_days"]
        return ApiToken.objects.issue(
            self.user,
            self.cleaned_data["name"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            allowed_models=self.cleaned_data["allowed_models"],
            budget_usd=self.cleaned_data["budget_usd"],
        )
