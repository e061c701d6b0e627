"""URL routes of the whole site."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # The OpenAI-compatible API: Bearer tokens, no session (chat/views/api).
    path("v1/", include("chat.views.api.urls")),
    path("", include("chat.urls")),
]
