"""The accounts app."""

from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "FusionRoom accounts"

    def ready(self) -> None:
        # Failed sign-ins are counted by a signal receiver there.
        from accounts import signin_limit  # noqa: F401
