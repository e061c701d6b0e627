"""The API against a live server: a Daphne process on this session's database and a fast simulator,
called with the official openai SDK."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from django.db import connection

from chat.models import ApiToken, Panel
from chat.simulator import SimulatorThread
from tests.cluster.processes import WebProcess, database_url
from tests.conftest import TEST_ENCRYPTION_KEY


@pytest.fixture(scope="session")
def api_simulator() -> Iterator[SimulatorThread]:
    # Really streaming, some twenty times faster than the models it plays: a run takes a second.
    with SimulatorThread(time_scale=0.05) as simulator:
        yield simulator


@pytest.fixture
def sim(api_simulator: SimulatorThread) -> Iterator[SimulatorThread]:
    """The session's simulator, with every model back to its defaults after the test."""
    yield api_simulator
    api_simulator.release()
    api_simulator.reset()


@pytest.fixture(scope="session")
def api_server(
    django_db_setup: Any,
    django_db_blocker: Any,
    api_simulator: SimulatorThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebProcess]:
    """One Daphne process for the session, in demo mode on the simulator."""
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "FUSIONROOM_DEMO": "1",
        "FUSIONROOM_SIMULATOR_URL": api_simulator.base_url,
        "FUSIONROOM_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FUSIONROOM_RUN_WORKERS": "0",
        # A refused seat is not tried again: its failure is what the tests look at.
        "FUSIONROOM_RETRY_ATTEMPTS": "1",
        "FUSIONROOM_API_KEEPALIVE_SECONDS": "0.05",
        "DJANGO_DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"]
    log = tmp_path_factory.mktemp("api") / "daphne.log"
    print(f"The API server's log: {log}")
    server = WebProcess("api", args, env, log)
    port = server.wait_for_line(r"Listening on TCP address 127\.0\.0\.1:(\d+)").group(1)
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


@pytest.fixture
def api(api_server: WebProcess, transactional_db: None, presets: dict[str, Panel]) -> str:
    """The server's /v1 base URL, with the presets back in a database each test starts empty."""
    return f"{api_server.url}/v1"


@pytest.fixture
def token(alice: Any) -> tuple[ApiToken, str]:
    return ApiToken.objects.issue(alice, "laptop")


def client_for(api: str, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=api, api_key=secret, max_retries=0, timeout=60)


@pytest.fixture
def sdk(api: str, token: tuple[ApiToken, str]) -> Iterator[openai.OpenAI]:
    """The official client, with alice's token "laptop"."""
    with client_for(api, token[1]) as client:
        yield client
