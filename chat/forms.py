"""Forms of the chat app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from chat.models import Panel

MAX_PROMPT_CHARS = 100_000


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined,misc]
        fields = ("username",)


class MessageForm(forms.Form):
    message = forms.CharField(
        label="Message",
        max_length=MAX_PROMPT_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Ask the panel…", "autofocus": True}),
        error_messages={
            "required": "Write a message first.",
            "max_length": "That message is too long (at most %(limit_value)d characters).",
        },
    )
    panel = forms.ModelChoiceField(
        label="Panel",
        queryset=Panel.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Pick one of the panels in the list."},
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["panel"].queryset = Panel.objects.for_user(user)  # type: ignore[attr-defined]
