"""Fixtures shared by the whole suite, and CI's rule that nothing may be skipped."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import hypothesis
import pytest
import pytest_asyncio
from asgiref.sync import SyncToAsync
from channels.layers import BaseChannelLayer, channel_layers, get_channel_layer
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connections
from django.test import Client

from chat.models import Conversation, Panel, ProviderEndpoint, Run, SeatAnswer, Turn, UserProviderKey
from chat.presets import PRESETS
from chat.runs import services
from chat.runs.creation import create_turn_and_run
from tests.fakes import JUDGE, SEATS, WRITER

# Properties say what is true, not how fast: a loaded machine (CI runs the suite twice, beside
# browsers) must not fail one on Hypothesis's 200 ms deadline. Speed is measured in bench/.
hypothesis.settings.register_profile("fusionroom", deadline=None)
hypothesis.settings.load_profile("fusionroom")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A skipped test proves nothing; in CI every test must run.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("CI") and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line(
            f"CI: {len(reporter.stats['skipped'])} test(s) skipped; failing the run.", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# One encryption key for the session: no test writes the development key file.
TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def encryption_keys(settings: Any) -> None:
    """The key stored provider keys are encrypted with; a test may configure others."""
    settings.FUSIONROOM_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]


@pytest.fixture(autouse=True)
def no_recovery_sweep(settings: Any) -> None:
    """Tests set up "running" runs that no task executes; the start-up recovery would end them."""
    settings.FUSIONROOM_RECOVER_RUNS = False


@pytest.fixture(autouse=True)
def close_the_sync_threads_connection(request: pytest.FixtureRequest) -> Iterator[None]:
    """Async tests reach the database through asgiref's one sync thread, whose connection
    nothing closes; PostgreSQL will not drop the test database while it is open."""
    yield
    if "django_db_setup" in request.fixturenames:
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def runs_execute_in_the_test_process(settings: Any) -> None:
    """With REDIS_URL set (make test-cluster) runs would go to a worker process; tests play the
    worker's part in this process, and tests/cluster starts real ones."""
    settings.FUSIONROOM_RUN_WORKERS = False


@pytest.fixture(autouse=True)
def no_demo_simulator(settings: Any) -> None:
    """Demo mode must not start its own simulator in tests: those that need one start it and
    point FUSIONROOM_SIMULATOR_URL at it. Nothing listens on port 9, so a stray call fails fast."""
    settings.FUSIONROOM_SIMULATOR_URL = settings.FUSIONROOM_SIMULATOR_URL or "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def clean_cache() -> Iterator[None]:
    """Counters of the sign-in, sign-up and import limits start at nothing in every test (user
    ids come back after a rollback, so a counter would otherwise carry over)."""
    cache.clear()
    yield
    cache.clear()


def saved_rows() -> dict[str, int]:
    """How many conversations, turns, runs and seat answers are saved, to show nothing was added."""
    return {
        "conversations": Conversation.objects.count(),
        "turns": Turn.objects.count(),
        "runs": Run.objects.count(),
        "answers": SeatAnswer.objects.count(),
    }


@pytest.fixture
def presets(db: None) -> dict[str, Panel]:
    """Quality and Budget, as the data migration seeds them (a transactional test's flush removes them)."""
    panels = {}
    for position, preset in enumerate(PRESETS):
        panel, _ = Panel.objects.get_or_create(
            slug=preset["slug"], is_preset=True, owner=None, defaults={**preset, "position": position}
        )
        panels[panel.name] = panel
    return panels


# --- People, runs and the channel layer (tests/test_runs.py, tests/test_consumers.py) ---------


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def bob(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("bob")


@pytest.fixture
def run_services() -> Iterator[Callable[..., None]]:
    """Swap some of the services runs get (chat.runs.services) for this test: call it with the
    fields to change, as often as needed; all is put back afterwards."""
    with contextlib.ExitStack() as stack:
        yield lambda **changes: stack.enter_context(services.overridden(**changes))


@pytest.fixture
def no_catalog(run_services: Callable[..., None]) -> None:
    """Runs ask no endpoint for its model catalog: prices only refine the cost figures, and the
    fake clients report their costs themselves."""

    async def empty(endpoints: object) -> dict[str, Any]:
        return {}

    run_services(catalog=empty)


def signed_in_client(user: User, **options: Any) -> Client:
    """A test client (Client's `options`) signed in as `user`."""
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def as_alice(alice: User) -> Client:
    """A test client signed in as alice."""
    return signed_in_client(alice)


@pytest.fixture
def as_bob(bob: User) -> Client:
    """A test client signed in as bob."""
    return signed_in_client(bob)


# --- Keys a user saved (tests/test_crypto.py, tests/test_settings_page.py) -------------------

# A key no page, log or error report may show.
SENTINEL = "sk-SENTINEL-5f1e0c"


@pytest.fixture
def alices_key(alice: User) -> UserProviderKey:
    """Alice's own OpenRouter key, the SENTINEL."""
    row = UserProviderKey(user=alice, endpoint="openrouter")
    row.set_api_key(SENTINEL)
    row.save()
    return row


@pytest.fixture
def alices_endpoint(alice: User) -> ProviderEndpoint:
    """An endpoint of alice's own, alices-vllm, with the SENTINEL as its key."""
    row = ProviderEndpoint(owner=alice, name="alices-vllm", base_url="http://10.0.0.5:8000/v1")
    row.set_api_key(SENTINEL)
    row.save()
    return row


@pytest.fixture
def make_run() -> Callable[..., Run]:
    """Makes a conversation, a panel of three seats with a judge and a writer, and a run of it.

    Synchronous, like the ORM: async tests call it through sync_to_async.
    """

    def make(owner: User, prompt: str = "Why is the sky blue?") -> Run:
        conversation = Conversation.objects.create(owner=owner)
        panel = Panel.objects.create(
            owner=owner, name="Test panel", seats=list(SEATS), judge=JUDGE, writer=WRITER
        )
        return create_turn_and_run(conversation, prompt, panel, simulated=False)

    return make


@pytest.fixture
def alice_run(alice: User, make_run: Callable[..., Run]) -> Run:
    """A run of alice's, still running, that no task executes: tests play its part."""
    return make_run(alice)


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """Each test gets a channel layer of its own. The Redis layer (make test-cluster) keeps locks
    and buffers bound to the event loop that used them, and every async test has its own loop."""
    channel_layers.backends = {}


@pytest_asyncio.fixture
async def channel_layer() -> AsyncIterator[BaseChannelLayer]:
    """The in-memory layer from the settings, emptied afterwards so no message outlives its test."""
    layer = get_channel_layer()
    assert layer is not None
    yield layer
    await layer.flush()
