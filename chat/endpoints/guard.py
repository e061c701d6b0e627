"""Users' own endpoints vetted like web fetch: strict URLs, refused addresses, the address pinned.

A user's base URL is a URL someone else typed that the server will call, so it gets the web
fetcher's rules (chat/webtools): every IPv4 spelling read as the address it means, the name
resolved, loopback, private, link-local, metadata and unspecified addresses refused, and every
connection made to an address checked just then (`VettingBackend`), so a DNS answer that
changes later has no second lookup to slip into. On top of that, no user-info, query or
fragment, and a path of plain segments: `/models` and `/chat/completions` cannot be joined
anywhere but under it. The operator's endpoints (environment, file, admin) are trusted and
keep the fast shared client. FUSIONROOM_USER_ENDPOINTS chooses: "off", "public" or "any".
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterable
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

import httpcore
import httpx
from asgiref.sync import async_to_sync
from django.conf import settings

from chat.providers.http_client import get_http_client, loop_client
from chat.providers.http_errors import RefusedAddress
from chat.providers.types import Endpoint
from chat.webtools.addresses import Resolver, parse_ip, refusal, system_resolver
from chat.webtools.hosts import normalise_host
from chat.webtools.transport import VettingBackend, VettingTransport, default_ssl_context
from chat.webtools.types import WebToolsError
from chat.webtools.urls import parse_url

UserEndpointsMode = Literal["off", "public", "any"]

OFF_MESSAGE = "Endpoints of your own are turned off on this server."
# Characters a base path never needs, that could move the joined path elsewhere: encoded dots,
# slashes and backslashes, and the query and fragment marks.
_ENCODED_SEPARATORS = ("%2e", "%2f", "%5c", "%3f", "%23")

# What resolves users' host names: the system's; tests put a fake one here.
resolver: Resolver = system_resolver


def mode() -> UserEndpointsMode:
    return cast(UserEndpointsMode, settings.FUSIONROOM_USER_ENDPOINTS)


def url_problem(url: str, rules: UserEndpointsMode | None = None) -> str | None:
    """Why a user's base URL may not be used under the rules (a sentence), or None.

    Checks only what the URL itself says; the addresses a name resolves to are checked by
    `address_problem` when it is saved and by the connection on every use.
    """
    rules = rules or mode()
    if rules == "off":
        return OFF_MESSAGE
    try:
        parsed = parse_url(url)
    except WebToolsError as error:
        return str(error)
    parts = urlsplit(url)
    if "?" in url:
        return "Refused: a base URL has no query (?...); it ends with the API's path, such as /v1."
    if "#" in url:
        return "Refused: a base URL has no fragment (#...); it ends with the API's path, such as /v1."
    path_problem = _path_problem(parts.path)
    if path_problem is not None:
        return f"Refused: {path_problem}."
    if rules == "public" and parsed.ip is not None:
        reason = refusal(parsed.ip)
        if reason is not None:
            return f"Refused: {parsed.ip} {reason}; only public addresses may be used here."
    return None


def _path_problem(path: str) -> str | None:
    lowered = path.lower()
    if any(encoded in lowered for encoded in _ENCODED_SEPARATORS):
        return "the path has an encoded dot, slash, backslash, ? or #"
    segments = unquote(path).split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is harmless
    for segment in segments:
        if segment in ("", ".", ".."):
            return "the path has an empty, '.' or '..' segment"
    return None


async def address_problem_async(url: str, rules: UserEndpointsMode | None = None) -> str | None:
    """`url_problem`, then under "public" the addresses its host resolves to now.

    A name that does not resolve now is not refused for that: every connection resolves and
    checks it again, and that check is the one that counts.
    """
    rules = rules or mode()
    problem = url_problem(url, rules)
    if problem is not None or rules != "public":
        return problem
    target = parse_url(url)
    if target.ip is not None:
        return None
    try:
        addresses = await resolver(target.host, target.port)
    except OSError:
        return None
    for address in addresses:
        ip = parse_ip(address)
        reason = "is not an address" if ip is None else refusal(ip)
        if reason is not None:
            return (
                f"Refused: {target.host} resolves to {address}, which {reason}; "
                "only public addresses may be used here."
            )
    return None


def address_problem(url: str, rules: UserEndpointsMode | None = None) -> str | None:
    """`address_problem_async` for sync code (a form's validation)."""
    return async_to_sync(address_problem_async)(url, rules)


def endpoint_problem(endpoint: Endpoint) -> str | None:
    """Why this endpoint may not be called now, or None: the operator's always may."""
    return url_problem(endpoint.base_url) if endpoint.user_owned else None


def http_client_for(endpoint: Endpoint) -> httpx.AsyncClient:
    """The running loop's HTTP client for this endpoint: the shared one for the operator's (and
    for users' under "any"), the vetting one for users' under "public"."""
    if endpoint.user_owned and mode() != "any":
        return loop_client("user-endpoints", create_user_http_client)
    return get_http_client()


class _UserEndpointBackend(VettingBackend):
    """The fetcher's vetting backend, raising the provider layer's RefusedAddress (a connect
    error httpx passes on) instead of the web tools' own error."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            if parse_ip(host) is None:
                # "Models.Example." and "models.example" are one name: resolved and judged as one.
                host = normalise_host(host)
            return await super().connect_tcp(host, port, timeout, local_address, socket_options)
        except (WebToolsError, ValueError) as error:
            raise RefusedAddress(str(error)) from None


async def _current_resolver(host: str, port: int) -> list[str]:
    return await resolver(host, port)


def create_user_http_client(network: httpcore.AsyncNetworkBackend | None = None) -> httpx.AsyncClient:
    """An HTTP client whose every connection goes to an address checked just then; no proxy, no
    redirects, no cookies kept between calls, the model client's timeouts."""
    backend = _UserEndpointBackend(network or httpcore.AnyIOBackend(), _current_resolver, frozenset())
    return httpx.AsyncClient(
        transport=VettingTransport(
            backend,
            ssl_context=default_ssl_context(),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=30),
        ),
        timeout=httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0),
        follow_redirects=False,
        trust_env=False,
        # Shared by every user's endpoints: a cookie one of them sets must never go to another.
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
    )


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False
