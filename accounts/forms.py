"""The sign-up form (a username and a password twice, nothing else) and the password change form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

# Not Django's "A user with that username already exists": a person still learns to choose
# another, and attempts are counted per address (accounts/signup_limit.py).
UNAVAILABLE = "This username is not available: choose another."


class SignUpForm(UserCreationForm[User]):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A refused sign-up gives back what was typed, passwords included, so one mistake does
        # not mean typing both again. The page only goes back to the browser that sent them, over
        # the same connection, and is never cached (accounts/views.py: never_cache); a password
        # that was accepted never reaches a page, since success redirects.
        for name in ("password1", "password2"):
            widget = self.fields[name].widget
            assert isinstance(widget, forms.PasswordInput)
            widget.render_value = True

    def clean_username(self) -> str:
        username = str(self.cleaned_data.get("username") or "")
        if username and User.objects.filter(username__iexact=username).exists():
            raise ValidationError(UNAVAILABLE, code="unique")
        return username

    def validate_password_for_user(self, user: User, password_field_name: str = "password1") -> None:
        # Django puts what the password validators say under the confirmation field; it is about
        # the password itself, so it goes under that. A mismatch stays on the confirmation.
        super().validate_password_for_user(user, password_field_name=password_field_name)  # type: ignore[misc]


class PasswordChange(PasswordChangeForm):
    def validate_password_for_user(self, user: User, password_field_name: str = "new_password2") -> None:
        # As at sign-up: what the validators say is about the new password, not its confirmation.
        super().validate_password_for_user(user, password_field_name="new_password1")
