"""The connection layer of the fetcher: every TCP connection goes to an address checked just then.

httpcore asks its network backend to `connect_tcp(host, port)` for every new connection — the
first request and every redirect hop alike. `VettingBackend` resolves the host once, refuses
if ANY address is not globally routable, and connects to a vetted address itself; TLS then
starts on that socket with the host name for SNI and certificate checks. A DNS answer that
changes between a check and the connect (rebinding) has no second lookup to slip into.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import certifi
import httpcore
import httpx

from chat.webtools.addresses import Resolver, parse_ip, refusal
from chat.webtools.hosts import host_port
from chat.webtools.types import WebToolsError


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Wraps a real network backend; connects only to checked addresses.

    `allow_hosts` lists exact `host:port` pairs that skip the address check (the built-in
    simulator on loopback, in tests and demo mode — nothing else).
    """

    def __init__(
        self, inner: httpcore.AsyncNetworkBackend, resolver: Resolver, allow_hosts: frozenset[str]
    ) -> None:
        self._inner = inner
        self._resolver = resolver
        self._allow_hosts = allow_hosts

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._vetted_addresses(host.lower(), port)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # _vetted_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise WebToolsError("Refused: the fetcher does not use Unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def _vetted_addresses(self, host: str, port: int) -> list[str]:
        literal = parse_ip(host)
        if literal is not None:
            addresses = [literal.compressed]
        else:
            addresses = await self._resolve(host, port)
        if host_port(host, port) in self._allow_hosts:
            return addresses
        for address in addresses:
            ip = parse_ip(address)
            if ip is None:
                raise WebToolsError(f"Refused: the resolver answered {address!r} for {host}, not an address.")
            reason = refusal(ip)
            if reason is not None:
                shown = (
                    f"{ip} {reason}" if literal is not None else f"{host} resolves to {ip}, which {reason}"
                )
                raise WebToolsError(f"Refused: {shown}.")
        return addresses

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            addresses = await self._resolver(host, port)
        except OSError:
            raise WebToolsError(f"Could not resolve {host}: no such host.") from None
        if not addresses:
            raise WebToolsError(f"Could not resolve {host}: no addresses.")
        return addresses


def default_ssl_context() -> ssl.SSLContext:
    """Certificate checks against certifi's roots, ignoring SSL_CERT_FILE and friends."""
    return ssl.create_default_context(cafile=certifi.where())


class VettingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on a VettingBackend, and no proxy.

    httpx offers no public way to give its transport a network backend, so the pool it
    builds is replaced by an equal one that has ours (httpx is pinned below 0.29).
    """

    def __init__(
        self,
        backend: VettingBackend,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits, http1=True, http2=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )
