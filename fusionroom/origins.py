"""The run socket's origin check: the page must come from this very site, scheme, host and port."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """("https", "host", 443) of an origin or URL; None for "null", garbage or another scheme."""
    try:
        parts = urlsplit(value.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _http_scheme(scope: dict[str, Any]) -> str:
    """http or https, as Django's request.scheme: the socket's own, or the proxy's header when
    SECURE_PROXY_SSL_HEADER says which one to trust."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, secure = proxy
        name = header.removeprefix("HTTP_").replace("_", "-").lower().encode()
        if _header(scope, name):
            return "https" if _header(scope, name) == secure else "http"
    return "https" if scope.get("scheme") in {"wss", "https"} else "http"


def requested_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of the socket's own request (its Host header, when ALLOWED_HOSTS allows it)."""
    host = _header(scope, b"host").strip().lower()
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return parse_origin(f"{_http_scheme(scope)}://{host}")


def trusted_origins() -> set[Origin]:
    """The configured ones: CSRF_TRUSTED_ORIGINS, and FUSIONROOM_SOCKET_ORIGINS (by default the
    FUSIONROOM_PUBLIC_URL when it was set)."""
    configured = [*settings.CSRF_TRUSTED_ORIGINS, *settings.FUSIONROOM_SOCKET_ORIGINS]
    return {origin for value in configured if "*" not in value and (origin := parse_origin(value))}


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = parse_origin(_header(scope, b"origin"))
    if origin is None:
        return False
    return origin == requested_origin(scope) or origin in trusted_origins()


class SameOriginValidator:
    """Refuses a socket whose Origin is not exactly this site: the scheme, host and port of the
    request's Host, or a configured origin. Channels' AllowedHostsOriginValidator compares the
    host name only, so a page on another port or scheme of the same host would get through."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)  # type: ignore[arg-type]
        return await self.application(scope, receive, send)
