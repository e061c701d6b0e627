"""The sign-up form: a username and a password twice, nothing else."""

from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User


class SignUpForm(UserCreationForm[User]):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)
