"""URL routes of the whole site."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers and tools ask for /favicon.ico whatever the page links: send them to the SVG."""
    return redirect(static("chat/favicon.svg"), permanent=True)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("favicon.ico", favicon),
    # The OpenAI-compatible API: Bearer tokens, no session (chat/views/api).
    path("v1/", include("chat.views.api.urls")),
    path("", include("chat.urls")),
]
