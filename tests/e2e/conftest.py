"""The browser tests: a real Daphne process, the simulator, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from chat.models import Panel
from chat.simulator import SimulatorThread
from tests.cluster.processes import Process, database_url

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}"))


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    # Real pacing, sped up: columns visibly stream, and a run takes a couple of seconds.
    with SimulatorThread(time_scale=0.25) as sim:
        yield sim


@pytest.fixture
def sim(simulator: SimulatorThread) -> Iterator[SimulatorThread]:
    """The session's simulator, with every model back to its defaults after the test."""
    yield simulator
    simulator.release()
    simulator.reset()


class LiveServer:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url


@pytest.fixture(scope="session")
def daphne_server(
    django_db_setup: Any,
    django_db_blocker: Any,
    simulator: SimulatorThread,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "FUSIONROOM_DEMO": "1",
        "FUSIONROOM_SIMULATOR_URL": simulator.base_url,
        "DJANGO_DEBUG": "1",
        # Every browser test signs its people up from 127.0.0.1, on this one server: the
        # per-address sign-up limit would refuse the eleventh (tests/security covers the limit).
        "FUSIONROOM_SIGNUP_MAX_PER_IP": "100000",
    }
    # On Redis (make test-cluster) runs execute in a worker process, as in production.
    worker = None
    if settings.REDIS_URL:
        # A clean slate: run ids start again in this session's new database.
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        env["FUSIONROOM_RUN_WORKERS"] = "1"
        logs = tmp_path_factory.mktemp("worker")
        worker = Process(
            "worker", [sys.executable, "manage.py", "runworker", "fusion-runs"], env, logs / "log"
        )
        worker.wait_for_line(r"Running worker for channels")
        print(f"The run worker's log: {worker.log}")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url = None
    for line in process.stderr:  # Daphne says where it listens once it does
        if found := re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", line):
            url = f"http://127.0.0.1:{found.group(1)}"
            break
    if url is None:
        raise RuntimeError(f"Daphne did not start (exit code {process.poll()})")
    # Keep draining its log so it never blocks on a full pipe; keep it for when a test fails.
    log = tmp_path_factory.mktemp("daphne") / "server.log"
    print(f"Daphne's log: {log}")
    drain = subprocess.Popen(["cat"], stdin=process.stderr, stdout=log.open("w"))
    yield LiveServer(process, url)
    process.terminate()
    process.wait(timeout=10)
    drain.wait(timeout=10)
    if worker is not None:
        worker.stop()


@pytest.fixture
def app(daphne_server: LiveServer, transactional_db: None, presets: dict[str, Panel]) -> str:
    """The server's URL, with the presets back in a database that each test starts empty."""
    return daphne_server.url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        # No background traffic: this machine has no internet, and the tests must reach nothing.
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_up(page: Page, app: str, username: str = "alice", password: str = "correct-horse-battery-9") -> None:
    page.goto(f"{app}/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password confirmation").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
