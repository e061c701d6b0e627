"""The MCP server against the official `mcp` SDK's own client, over both transports: `manage.py mcp`
spawned over stdio, and /mcp of a live Daphne process; both on this session's database and a
fast simulator (demo mode)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx2
import pytest
from django.db import connection
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from chat.models import ApiToken, Panel
from chat.simulator import SimulatorThread
from tests.cluster.processes import ROOT, WebProcess, database_url
from tests.conftest import TEST_ENCRYPTION_KEY

# A fused run takes about a second on the simulator; a call that waits much longer is stuck.
CALL_SECONDS = 60

Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(scope="session")
def mcp_simulator() -> Iterator[SimulatorThread]:
    # Really streaming, some twenty times faster than the models it plays.
    with SimulatorThread(time_scale=0.05) as simulator:
        yield simulator


@pytest.fixture
def sim(mcp_simulator: SimulatorThread) -> Iterator[SimulatorThread]:
    """The session's simulator, with every model back to its defaults after the test."""
    yield mcp_simulator
    mcp_simulator.release()
    mcp_simulator.reset()


@pytest.fixture(scope="session")
def server_env(
    django_db_setup: Any, django_db_blocker: Any, mcp_simulator: SimulatorThread
) -> dict[str, str]:
    """What a server process needs to serve this session: its database, the simulator (demo mode)."""
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    return {
        "DATABASE_URL": database,
        "FUSIONROOM_DEMO": "1",
        "FUSIONROOM_SIMULATOR_URL": mcp_simulator.base_url,
        "FUSIONROOM_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        # Runs execute in the server process, which the tests follow (tests/cluster has workers).
        "FUSIONROOM_RUN_WORKERS": "0",
        # A refused seat is not tried again: its failure is what a test looks at.
        "FUSIONROOM_RETRY_ATTEMPTS": "1",
        "DJANGO_DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def mcp_web(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebProcess]:
    """One Daphne process for the session, serving /mcp."""
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"]
    log = tmp_path_factory.mktemp("mcp") / "daphne.log"
    print(f"The MCP web server's log: {log}")
    server = WebProcess("mcp-web", args, {**os.environ, **server_env}, log)
    port = server.wait_for_line(r"Listening on TCP address 127\.0\.0\.1:(\d+)").group(1)
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


@pytest.fixture
def live(transactional_db: None, presets: dict[str, Panel]) -> dict[str, Panel]:
    """A database each test starts empty (server processes see what the test commits), with the presets."""
    return presets


@pytest.fixture
def token(alice: Any, live: dict[str, Panel]) -> tuple[ApiToken, str]:
    return ApiToken.objects.issue(alice, "agent")


def over_stdio(server_env: dict[str, str], username: str) -> Client:
    """The SDK's client, having spawned `manage.py mcp --user USERNAME`."""
    command = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp", "--user", username],
        # The SDK passes on only a safe few of this environment's variables.
        env={**server_env, **{name: os.environ[name] for name in ("REDIS_URL",) if name in os.environ}},
        cwd=ROOT,
    )
    return Client(command, read_timeout_seconds=CALL_SECONDS)


@asynccontextmanager
async def over_http(
    url: str, secret: str, *, mode: str = "auto", statuses: list[int] | None = None
) -> AsyncIterator[Client]:
    """The SDK's client, on /mcp with the token as its Bearer; the HTTP statuses of its requests
    are added to `statuses`."""
    headers = {"Authorization": f"Bearer {secret}"}

    async def note(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    hooks = {"response": [note]}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=CALL_SECONDS, event_hooks=hooks) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(transport: str, request: pytest.FixtureRequest, token: tuple[ApiToken, str]) -> Connect:
    """Opens a client of alice's over the test's transport: `async with connect() as client`."""
    if transport == "stdio":
        env = request.getfixturevalue("server_env")
        return lambda: over_stdio(env, "alice")
    web = request.getfixturevalue("mcp_web")
    return lambda: over_http(f"{web.url}/mcp", token[1])


def run_client(connect: Connect, use: Callable[[Client], Awaitable[Any]]) -> Any:
    """Open a client, `use` it, close it; what `use` returned. Tests stay synchronous, so that
    their ORM calls are plain ones."""

    async def main() -> Any:
        async with connect() as client:
            return await use(client)

    return asyncio.run(main())


def call(connect: Connect, tool: str, arguments: dict[str, Any], **options: Any) -> Any:
    """One tool call on a client of its own: its CallToolResult."""
    return run_client(connect, lambda client: client.call_tool(tool, arguments, **options))
