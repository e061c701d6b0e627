"""The sign-up form: a username and a password twice, nothing else."""

from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

# Not Django's "A user with that username already exists": a person still learns to choose
# another, and attempts are counted per address (accounts/signup_limit.py).
UNAVAILABLE = "This username is not available: choose another."


class SignUpForm(UserCreationForm[User]):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def clean_username(self) -> str:
        username = str(self.cleaned_data.get("username") or "")
        if username and User.objects.filter(username__iexact=username).exists():
            raise ValidationError(UNAVAILABLE, code="unique")
        return username
