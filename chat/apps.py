"""The chat app."""

from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "FusionRoom chat"

    def ready(self) -> None:
        # Sign-out and password changes close the user's open run sockets; failed sign-ins are counted.
        from chat import signals  # noqa: F401
