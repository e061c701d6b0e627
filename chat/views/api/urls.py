"""The API's routes, mounted at /v1/ (no trailing slashes: OpenAI's clients add none)."""

from __future__ import annotations

from django.urls import path

from chat.views.api import completions, models

urlpatterns = [
    path("models", models.list_models, name="api_models"),
    # Model ids have slashes (fusion/panel/<slug>, openai/gpt-5.5).
    path("models/<path:model_id>", models.retrieve_model, name="api_model"),
    path("chat/completions", completions.chat_completions, name="api_chat_completions"),
]
