"""/v1 through a Django handler of its own, without the site's middleware: a program's call is no page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware

# Where the API is mounted (fusionroom/urls.py).
API_PREFIX = "/v1/"

type Respond = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class ApiHandler(ASGIHandler):
    """Django's ASGI handler, serving the API's views with the one piece of middleware they need.

    The site's middleware is for pages: sessions, CSRF, messages, htmx, frame and content
    policies; the API reads none of it (a Bearer token, never a cookie). Most of it is sync, so
    each piece costs a trip to the request's thread and back (WhiteNoise's sends the rest of the
    stack back through the loop): a dozen hops before the view starts. Kept here, on the loop:
    the Host header checked against ALLOWED_HOSTS (CommonMiddleware's check) and HTTPS and its
    headers (SecurityMiddleware's redirect, nosniff, HSTS, referrer and opener policies)."""

    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware sets, for the one chain below (always async: ASGI).
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        resolve_and_call: Respond = self._get_response_async  # type: ignore[attr-defined]
        view = cast(Respond, convert_exception_to_response(resolve_and_call))
        # Its methods are plain functions of the request and response: called here, not hopped to.
        security = SecurityMiddleware(view)

        async def secured(request: HttpRequest) -> HttpResponseBase:
            request.get_host()  # DisallowedHost becomes a 400, as for every page
            response = security.process_request(request) or await view(request)
            # Typed for HttpResponse, it only sets headers: a streamed response takes them as well.
            return security.process_response(request, response)  # type: ignore[arg-type]

        self._middleware_chain = convert_exception_to_response(secured)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Without Django's ThreadSensitiveContext: each request would get a thread of its own for
        # its database work (and a connection of its own), and twenty requests at once would
        # queue at SQLite's write lock, whose waiters poll it with sleeps of up to 100 ms while it
        # stands free. The API's database work goes instead, one piece after another, to the one
        # thread where the runs' own work goes (asgiref's single thread): in an instant, not in
        # a queue of sleepers.
        await self.handle(scope, receive, send)


class ApiOverHttp:
    """ASGI: HTTP requests under /v1/ to the API's handler, everything else to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.api = ApiHandler()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _path(scope).startswith(API_PREFIX):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _path(scope: Any) -> str:
    # The path below the mount point, as Django resolves it (ASGI's path includes root_path).
    path: str = scope["path"]
    return path.removeprefix(scope.get("root_path", "")) or "/"
