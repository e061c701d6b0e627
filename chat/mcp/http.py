"""The MCP server over streamable HTTP at /mcp: an API token authenticates each request, which
stands alone (the SDK's stateless mode), so any web process behind a balancer can answer it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings

from chat.mcp.caller import Caller
from chat.mcp.server import CALLER_SCOPE_KEY, build_server
from chat.models import ApiToken

MCP_PATHS = frozenset({"/mcp", "/mcp/"})
# How a request's API token is checked: the API's own way (chat.views.api.auth.token_or_refusal,
# given by fusionroom.asgi), which returns the token or the response refusing the request.
Authenticate = Callable[[HttpRequest], Awaitable[ApiToken | HttpResponse]]


class McpOverHttp:
    """ASGI: /mcp (and /mcp/) to the MCP server, every other connection to `app`.

    The SDK's session manager needs a task group for as long as it serves: Daphne has no start-up
    hook (no ASGI lifespan), so the first MCP request of an event loop starts it there."""

    def __init__(self, app: Any, *, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._manager: StreamableHTTPSessionManager | None = None
        self._ready = asyncio.Event()
        self._serving: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in MCP_PATHS:
            await self._serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        # The body stays unread here: the SDK reads it, within its bound.
        request = ASGIRequest(scope, io.BytesIO())
        try:
            site_url = f"{request.scheme}://{request.get_host()}"
        except DisallowedHost:
            # What Django answers any request for a host it does not serve.
            await _send(HttpResponse("Bad Request (400)", status=400), send)
            return
        # In production, plain HTTP is sent to HTTPS before a token travels further, as Django's
        # SecurityMiddleware sends every other request (SECURE_SSL_REDIRECT).
        redirect = SecurityMiddleware(_unused).process_request(request)
        if redirect is not None:
            await _send(redirect, send)
            return
        token = await self.authenticate(request)
        if isinstance(token, HttpResponse):
            await _send(token, send)
            return
        caller = Caller(user=token.user, token=token, site_url=site_url)
        manager = await self._running_manager()
        await manager.handle_request({**scope, CALLER_SCOPE_KEY: caller}, receive, send)

    async def _running_manager(self) -> StreamableHTTPSessionManager:
        loop = asyncio.get_running_loop()
        if self._manager is None or self._loop is not loop:
            # A manager serves in the loop that started it (a test's ASGI calls may use several).
            self._loop, self._ready = loop, asyncio.Event()
            self._manager = _manager()
            self._serving = loop.create_task(self._serve_forever(self._manager, self._ready))
        await self._ready.wait()
        return self._manager

    @staticmethod
    async def _serve_forever(manager: StreamableHTTPSessionManager, ready: asyncio.Event) -> None:
        try:
            async with manager.run():
                ready.set()
                await asyncio.Future()  # as long as the process serves
        finally:
            ready.set()  # a manager that failed to start must not leave requests waiting


def _manager() -> StreamableHTTPSessionManager:
    server = build_server()
    # Made for its session manager only: requests reach the manager straight from McpOverHttp.
    server.streamable_http_app(
        # Every request stands alone: no session lives in one process's memory.
        stateless_http=True,
        # The Host header is checked against ALLOWED_HOSTS above, as Django checks it; and a
        # rebound DNS name gains a page nothing, as only the Authorization header authenticates.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        # The bound Django puts on every request body (the SDK's own when Django has none).
        max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE or DEFAULT_MAX_REQUEST_BODY_SIZE,
    )
    return server.session_manager


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only SecurityMiddleware.process_request is called")


async def _send(response: HttpResponse, send: Any) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
