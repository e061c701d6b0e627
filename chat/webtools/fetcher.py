"""SafeFetcher: fetch a page a model chose, without letting it reach anything but the public web."""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field

from chat.webtools.addresses import Resolver, refusal, system_resolver
from chat.webtools.decoding import ACCEPT_ENCODING, read_capped
from chat.webtools.extract import page_from_body
from chat.webtools.hosts import host_port, normalise_host
from chat.webtools.policy import DomainPolicy
from chat.webtools.transport import VettingBackend, VettingTransport, default_ssl_context
from chat.webtools.types import FetchedPage, WebToolsError
from chat.webtools.urls import SafeURL, parse_url

USER_AGENT = "FusionRoom-WebFetch/1.0 (self-hosted model-fusion chatroom; fetches pages its models cite)"
READABLE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchLimits(BaseModel):
    """How much one fetch may take: bytes, time, redirects, tokens, and which ports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: int = Field(default=2_000_000, gt=0)
    """Cap on the DECODED body; past it the page is cut and says so."""
    total_seconds: float = Field(default=15.0, gt=0)
    """Every hop, the download and the extraction together."""
    max_redirects: int = Field(default=3, ge=0)
    token_budget: int = Field(default=3_000, gt=0)
    """The text is cut to about 4 characters a token."""
    allowed_ports: frozenset[int] = frozenset({80, 443})


@dataclass(frozen=True)
class _Download:
    url: SafeURL
    media_type: str
    charset: str | None
    content: bytes
    capped: bool


class SafeFetcher:
    """Fetches http(s) pages for models, refusing anything that is not the public web.

    Every URL and redirect hop is read strictly (`parse_url`), must use an allowed port and a
    domain the policy does not block; every connection goes to an address resolved once and
    checked at connect time (`VettingBackend`). No proxy from the environment, no cookies, no
    credentials, a fixed User-Agent; at most `max_redirects` redirects, `max_bytes` of decoded
    body, `total_seconds` in all; only HTML, XHTML and plain text (PDF is not read).

    One per process, like any httpx client: `aclose()` it (or use `async with`) at shutdown.
    `allow_hosts` is for the built-in simulator only: exact `host:port` pairs (e.g.
    "127.0.0.1:8765") that skip the address and port checks, never the scheme or policy ones.
    """

    def __init__(
        self,
        *,
        allow_hosts: frozenset[str] = frozenset(),
        limits: FetchLimits | None = None,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.limits = limits or FetchLimits()
        self._allow_hosts = frozenset(_allow_entry(entry) for entry in allow_hosts)
        backend = VettingBackend(
            network_backend or httpcore.AnyIOBackend(), resolver or system_resolver, self._allow_hosts
        )
        seconds = self.limits.total_seconds
        self._client = httpx.AsyncClient(
            transport=VettingTransport(
                backend,
                ssl_context=ssl_context or default_ssl_context(),
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30),
            ),
            trust_env=False,
            follow_redirects=False,
            # A jar that keeps nothing: no Set-Cookie of one page goes with the next request.
            cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
            timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    async def fetch(self, url: str, *, policy: DomainPolicy | None = None) -> FetchedPage:
        """The readable text of `url`. Raises WebToolsError saying why it was refused or failed."""
        seconds = self.limits.total_seconds
        try:
            async with asyncio.timeout(seconds):
                download = await self._download(url, policy or DomainPolicy())
                return await asyncio.to_thread(
                    page_from_body,
                    str(download.url),
                    download.media_type,
                    download.charset,
                    download.content,
                    token_budget=self.limits.token_budget,
                    body_capped_at=self.limits.max_bytes if download.capped else None,
                )
        except TimeoutError:
            raise WebToolsError(f"Timed out: fetching {url} took longer than {seconds:g} s.") from None
        except httpx.HTTPError as error:
            raise WebToolsError(f"Could not fetch {url}: {_describe(error)}") from None
        except httpx.InvalidURL as error:  # not an HTTPError; parse_url should leave none
            raise WebToolsError(f"Refused: {url} is not a URL the client accepts ({error}).") from None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> SafeFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _download(self, url: str, policy: DomainPolicy) -> _Download:
        target = self._admit(url, policy)
        for hop in range(self.limits.max_redirects + 1):
            response = await self._client.send(self._client.build_request("GET", str(target)), stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location is not None:
                    if hop == self.limits.max_redirects:
                        raise WebToolsError(f"Refused: {url} redirects more than {hop} times.")
                    target = self._admit(urljoin(str(target), location), policy)
                    continue
                return await self._read(target, response)
            finally:
                await response.aclose()
        raise AssertionError("unreachable: the last hop returns or raises")

    def _admit(self, url: str, policy: DomainPolicy) -> SafeURL:
        """`url` parsed, with its port, literal address and domain checked (a hop's own checks;
        the resolved addresses are checked when the connection is made)."""
        target = parse_url(url)
        allowed = target.authority in self._allow_hosts
        if not allowed and target.port not in self.limits.allowed_ports:
            ports = ", ".join(str(port) for port in sorted(self.limits.allowed_ports))
            raise WebToolsError(f"Refused: port {target.port} is not allowed (only {ports}).")
        if not allowed and target.ip is not None:
            reason = refusal(target.ip)
            if reason is not None:
                raise WebToolsError(f"Refused: {target.ip} {reason}.")
        blocked = policy.blocked_entry(target.host)
        if blocked is not None:
            raise WebToolsError(f"Refused: {target.host} is blocked for fetching ({blocked} is on the list).")
        return target

    async def _read(self, target: SafeURL, response: httpx.Response) -> _Download:
        if not response.is_success:
            reason = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise WebToolsError(f"{target} answered HTTP {response.status_code}{reason}.")
        media_type, charset = _content_type(response.headers.get("content-type", ""))
        if media_type not in READABLE_TYPES:
            shown = media_type or "no content type"
            raise WebToolsError(f"Refused: {target} is {shown}; only HTML and plain text pages are read.")
        body = await read_capped(response, self.limits.max_bytes)
        return _Download(target, media_type, charset, body.content, body.capped)


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, *parameters = header.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


def _allow_entry(entry: str) -> str:
    host, colon, port = entry.strip().rpartition(":")
    if not colon or not port.isdigit():
        raise ValueError(f"allow_hosts entries are host:port pairs, not {entry!r}")
    bare = host.removeprefix("[").removesuffix("]")
    return host_port(bare.lower() if ":" in bare else normalise_host(bare), int(port))


def _describe(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "the connection timed out."
    if isinstance(error, httpx.ConnectError):
        return f"could not connect ({error or 'connection refused'})."
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server broke the HTTP protocol."
    return f"{type(error).__name__}: {error}."


class _RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False
