"""The requests our views are given, typed: what django-htmx's middleware and login_required add."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """Any request: HtmxMiddleware runs on all of them (settings.MIDDLEWARE)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """A request to a view behind login_required, which only lets signed-in users through."""

    user: User
    auser: Callable[[], Awaitable[User]]
