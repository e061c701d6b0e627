"""The process-wide HTTP client for model APIs: one per running event loop, closed with its loop."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Callable

import httpx
from httpx_aiohttp import AiohttpTransport

# Model streams open at once in one process, over every endpoint. A run streams up to eight seats
# (then its judge and writer), and a stream waiting for a connection is invisible to its model:
# at 100, forty five-seat runs queued half their seats behind the others, 4.4 s a run (bench row 4,
# round 3). 500 keeps a process, its clients' sockets included, under the usual 1,024 files.
MAX_CONNECTIONS = 500


def create_http_client() -> httpx.AsyncClient:
    """A new HTTP client configured for model APIs; the process should need only one per loop.

    httpx's API over aiohttp's connections: every streamed token is one read, and httpcore's
    reads through anyio cost about twice aiohttp's (bench/README.md, CPU per token).
    """
    # Proxies, netrc credentials and CA bundles come from our configuration, not from whatever
    # environment the server was started in: trust_env is off for the transport and the client.
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False),
        # A streamed answer may pause while a model thinks: reads get two minutes, the rest less.
        timeout=httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0),
        trust_env=False,
    )


# One client of each kind per running event loop. An httpx client's pooled connections belong
# to the loop that opened them, and a process can run several loops: Daphne's, the fresh ones
# Django's async_to_sync creates in worker threads, pytest-asyncio's one per test. Keyed weakly,
# so a loop that is gone takes its clients' entries with it; each entry also holds the generator
# that closes the client when its loop shuts down (see _closed_at_shutdown).
_clients_by_loop: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]]
] = weakref.WeakKeyDictionary()


def get_http_client() -> httpx.AsyncClient:
    """The shared HTTP client of the running event loop, created on first use."""
    return loop_client("models", create_http_client)


def loop_client(kind: str, create: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
    """The running loop's client of this `kind`, made by `create` on first use and closed with
    the loop (users' own endpoints have a client of their own, see chat/endpoints/guard.py)."""
    loop = asyncio.get_running_loop()
    clients = _clients_by_loop.setdefault(loop, {})
    entry = clients.get(kind)
    if entry is None or entry[0].is_closed:
        client = create()
        clients[kind] = (client, _closed_at_shutdown(client))
        return client
    return entry[0]


def _closed_at_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """An async generator, started and left at its yield, whose `finally` closes the client.

    asyncio has no hook for "this loop is ending", but asyncio.run(), asgiref's loops and
    pytest-asyncio's all close the loop's suspended async generators first
    (loop.shutdown_asyncgens), so the connections are closed on their own loop, and aiohttp
    does not complain later of a session left unclosed.
    """

    async def wait_for_shutdown() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await client.aclose()

    closer = wait_for_shutdown()
    # Runs to the yield at once (nothing before it awaits) and registers with the loop.
    with contextlib.suppress(StopIteration):
        closer.__anext__().send(None)
    return closer


async def close_http_client() -> None:
    """Close the running loop's shared clients, if it has any (at shutdown, or after a test)."""
    clients = _clients_by_loop.pop(asyncio.get_running_loop(), {})
    for _, closer in clients.values():
        await closer.aclose()  # its `finally` closes the client
