"""Local listeners that record every connection, a resolver and a network that never leave the machine.

`Listener` is a real TCP server on 127.0.0.1: a refusal test that points a URL at it proves no
connection was made by its `connections` staying at 0. `FakeNetwork` stands in for the
internet: it records every address the fetcher asks to connect to, and carries the connection
to a local listener instead (or refuses), so no test ever sends a packet to a non-loopback
address, even if a check were broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpcore
import pytest
import pytest_asyncio

from chat.webtools import FetchLimits, SafeFetcher

Respond = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
PUBLIC_IP = "93.184.215.14"
"""A globally routable address for names in tests; FakeNetwork never really connects to it."""


def http_response(
    body: bytes | str = b"",
    *,
    status: str = "200 OK",
    content_type: str | None = "text/html; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A whole HTTP/1.1 response that closes the connection."""
    content = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(content)}", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


def replying(response: bytes) -> Respond:
    async def respond(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(response)
        await writer.drain()

    return respond


@dataclass
class Listener:
    """A TCP server on 127.0.0.1 that records connections and the request heads it read."""

    respond: Respond
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            await self.respond(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


@pytest_asyncio.fixture
async def listen() -> AsyncIterator[Callable[..., Awaitable[Listener]]]:
    """Start listeners: ``await listen(respond)``; all are stopped after the test."""
    started: list[Listener] = []

    async def start(respond: Respond, *, ssl_context: ssl.SSLContext | None = None) -> Listener:
        listener = await Listener(respond, ssl_context=ssl_context).start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


class Resolver:
    """A resolver with fixed answers that counts its calls; unknown names do not resolve."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


class FakeNetwork(httpcore.AsyncNetworkBackend):
    """Records each (address, port) the fetcher connects to; carries it to `route_to` on loopback
    when set, else fails as if the network were down."""

    def __init__(self, route_to: Listener | None = None) -> None:
        self.route_to = route_to
        self.attempts: list[tuple[str, int]] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        if self.route_to is None:
            raise httpcore.ConnectError("no network in tests")
        return await self._real.connect_tcp("127.0.0.1", self.route_to.port, timeout=timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets in tests")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest_asyncio.fixture
async def make_fetcher() -> AsyncIterator[Callable[..., SafeFetcher]]:
    """Build SafeFetchers (closed after the test): ``make_fetcher(resolver=..., network=...)``."""
    made: list[SafeFetcher] = []

    def make(
        *,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
        allow_hosts: Iterable[str] = (),
        extra_ports: Iterable[int] = (),
        **limits: object,
    ) -> SafeFetcher:
        ports = frozenset({80, 443, *extra_ports})
        fetcher = SafeFetcher(
            allow_hosts=frozenset(allow_hosts),
            limits=FetchLimits.model_validate({"allowed_ports": ports, **limits}),
            resolver=resolver,
            network_backend=network,
        )
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


@pytest.fixture
def article_html() -> str:
    paragraphs = "".join(
        f"<p>Paragraph {n} explains how sourdough starters behave when the kitchen is cold "
        "and why bakers feed them twice a day during winter months.</p>"
        for n in range(1, 8)
    )
    return (
        "<!doctype html><html><head><title>Sourdough in winter</title></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/shop'>Shop</a></nav>"
        f"<article><h1>Sourdough in winter</h1>{paragraphs}</article>"
        "<script>window.secret = 'do not read me';</script></body></html>"
    )
