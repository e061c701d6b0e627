"""Which endpoints a server and a user have: the environment's, the admin's, a user's own keys
and endpoints; and that a user's key, used for a real run, shows up nowhere but in the request."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ImproperlyConfigured, ValidationError

from chat.endpoints.config import load_configured_endpoints
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import (
    client_for,
    default_endpoint_name,
    endpoints_for,
    server_endpoints,
)
from chat.models import Conversation, Panel, ProviderEndpoint, Run, SeatAnswer, UserProviderKey
from chat.providers.client import OpenAICompatibleClient
from chat.providers.routing import ModelRouter
from chat.providers.types import Endpoint
from chat.runs import dispatch, services
from chat.runs.creation import create_turn_and_run
from chat.runs.dispatch import wait_for_run
from chat.runs.pacing import Pacing
from chat.runs.protocol import run_group
from chat.simulator import Simulator
from tests.conftest import SENTINEL
from tests.layer import is_final, listen, receive_until

OLLAMA = Endpoint(name="ollama", base_url="http://127.0.0.1:11434/v1")


@pytest.fixture
def server(settings: Any) -> None:
    """OpenRouter with the server's key (at an address nothing answers), and one endpoint from
    the environment."""
    settings.FUSIONROOM_DEMO = False
    settings.OPENROUTER_API_KEY = "sk-server-openrouter"
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [OLLAMA]


def give_key(user: User, endpoint: str, key: str) -> UserProviderKey:
    row = UserProviderKey(user=user, endpoint=endpoint)
    row.set_api_key(key)
    row.save()
    return row


def own_endpoint(user: User | None, name: str, *, key: str = "", enabled: bool = True) -> ProviderEndpoint:
    row = ProviderEndpoint(owner=user, name=name, base_url=f"https://{name}.example/v1", enabled=enabled)
    row.set_api_key(key)
    row.save()
    return row


def by_name(endpoints: list[Endpoint]) -> dict[str, Endpoint]:
    return {endpoint.name: endpoint for endpoint in endpoints}


# -- the environment's endpoints ---------------------------------------------------------------


def test_a_json_file_lists_endpoints_with_keys_from_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "endpoints.json"
    file.write_text(
        json.dumps(
            [
                {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1"},
                {"name": "groq", "base_url": "https://api.groq.com/openai/v1", "api_key_env": "GROQ_KEY"},
            ]
        )
    )
    endpoints = load_configured_endpoints(str(file), environ={"GROQ_KEY": "gsk-123"})
    assert [(e.name, e.base_url, e.api_key) for e in endpoints] == [
        ("ollama", "http://127.0.0.1:11434/v1", ""),
        ("groq", "https://api.groq.com/openai/v1", "gsk-123"),
    ]


def test_a_toml_file_lists_endpoints_as_an_array_of_tables(tmp_path: Path) -> None:
    file = tmp_path / "endpoints.toml"
    file.write_text(
        '[[endpoints]]\nname = "vllm"\nbase_url = "http://gpu-box:8000/v1"\napi_key = "inline-key"\n'
    )
    (endpoint,) = load_configured_endpoints(str(file), environ={})
    assert (endpoint.name, endpoint.base_url, endpoint.api_key) == (
        "vllm",
        "http://gpu-box:8000/v1",
        "inline-key",
    )


def test_inline_json_comes_after_the_file(tmp_path: Path) -> None:
    file = tmp_path / "endpoints.json"
    file.write_text('[{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1"}]')
    inline = '[{"name": "lmstudio", "base_url": "http://127.0.0.1:1234/v1"}]'
    assert [e.name for e in load_configured_endpoints(str(file), inline, environ={})] == [
        "ollama",
        "lmstudio",
    ]


def test_nothing_configured_means_no_extra_endpoints() -> None:
    assert load_configured_endpoints("", "  ", environ={}) == []


@pytest.mark.parametrize(
    "entries, problem",
    [
        (
            [{"name": "ollama", "base_url": "http://x/v1", "model": "llama3"}],
            "Extra inputs are not permitted",
        ),
        ([{"name": "Ollama", "base_url": "http://x/v1"}], "lowercase"),
        ([{"name": "a::b", "base_url": "http://x/v1"}], "lowercase"),
        ([{"name": "openrouter", "base_url": "http://x/v1"}], "built-in endpoint"),
        ([{"name": "simulated", "base_url": "http://x/v1"}], "built-in endpoint"),
        ([{"name": "ollama", "base_url": "127.0.0.1:11434"}], "http:// or https://"),
        ([{"name": "ollama"}], "base_url: Field required"),
        ({"name": "ollama", "base_url": "http://x/v1"}, "must be a list of endpoints"),
        (
            [{"name": "x", "base_url": "http://x/v1"}, {"name": "x", "base_url": "http://y/v1"}],
            "Two configured endpoints are called 'x'",
        ),
        (
            [{"name": "x", "base_url": "http://x/v1", "api_key_env": "X_KEY"}],
            r"reads its key from \$X_KEY, which is not set",
        ),
        (
            [{"name": "x", "base_url": "http://x/v1", "api_key_env": "X_KEY", "api_key": "k"}],
            "sets both api_key and api_key_env",
        ),
    ],
)
def test_a_bad_configuration_stops_startup_saying_why(entries: Any, problem: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=problem):
        load_configured_endpoints(inline=json.dumps(entries), environ={})


def test_a_bad_entry_is_reported_without_quoting_its_key() -> None:
    inline = json.dumps([{"name": "x", "base_url": "not a url", "api_key": SENTINEL, "extra": SENTINEL}])
    with pytest.raises(ImproperlyConfigured) as raised:
        load_configured_endpoints(inline=inline, environ={})
    assert "0.base_url" in str(raised.value) and "0.extra" in str(raised.value)
    assert SENTINEL not in str(raised.value)


def test_invalid_json_is_reported_by_position_without_quoting_it() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"FUSIONROOM_ENDPOINTS is not valid JSON \(line 1"
    ) as raised:
        load_configured_endpoints(inline=f'[{{"api_key": "{SENTINEL}"', environ={})
    assert SENTINEL not in str(raised.value)


def test_a_missing_file_or_bad_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        load_configured_endpoints(str(tmp_path / "nope.json"), environ={})
    bad = tmp_path / "endpoints.toml"
    bad.write_text("name = 'x'\n")
    with pytest.raises(ImproperlyConfigured, match=r"must hold only \[\[endpoints\]\] tables"):
        load_configured_endpoints(str(bad), environ={})
    bad.write_text("[[endpoints]\n")
    with pytest.raises(ImproperlyConfigured, match="not valid TOML"):
        load_configured_endpoints(str(bad), environ={})


def test_an_endpoints_repr_leaves_its_key_out() -> None:
    (endpoint,) = load_configured_endpoints(
        inline=json.dumps([{"name": "x", "base_url": "http://x/v1", "api_key": SENTINEL}]), environ={}
    )
    assert SENTINEL not in repr(endpoint) and SENTINEL not in str(endpoint)


# -- the server's endpoints ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_server_offers_openrouter_then_the_environments_then_the_admins(
    server: None, alice: User
) -> None:
    own_endpoint(None, "together", key="sk-together")
    own_endpoint(None, "switched-off", enabled=False)
    own_endpoint(alice, "alices")

    endpoints = server_endpoints()

    assert [e.name for e in endpoints] == ["openrouter", "ollama", "together"]
    assert endpoints[0].api_key == "sk-server-openrouter"
    assert endpoints[2].api_key == "sk-together"
    assert default_endpoint_name() == "openrouter"


@pytest.mark.django_db
def test_demo_mode_defaults_to_the_simulator_and_keeps_the_configured_endpoints(settings: Any) -> None:
    settings.FUSIONROOM_DEMO = True
    settings.FUSIONROOM_SIMULATOR_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [OLLAMA]

    endpoints = server_endpoints()

    assert [(e.name, e.simulated) for e in endpoints] == [("simulated", True), ("ollama", False)]
    assert default_endpoint_name() == "simulated"


@pytest.mark.django_db
def test_a_server_endpoint_whose_key_cannot_be_read_is_left_out_and_logged(
    server: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    own_endpoint(None, "together", key=SENTINEL)
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]

    assert [e.name for e in server_endpoints()] == ["openrouter", "ollama"]
    assert "'together' is left out" in caplog.text
    assert SENTINEL not in caplog.text


# -- a user's endpoints ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_users_own_key_replaces_the_servers_for_their_runs(server: None, alice: User, bob: User) -> None:
    give_key(alice, "openrouter", SENTINEL)
    give_key(alice, "ollama", "sk-alices-ollama")

    alices = by_name(endpoints_for(alice))
    bobs = by_name(endpoints_for(bob))

    assert alices["openrouter"].api_key == SENTINEL
    assert alices["ollama"].api_key == "sk-alices-ollama"
    assert bobs["openrouter"].api_key == "sk-server-openrouter"
    assert bobs["ollama"].api_key == ""


@pytest.mark.django_db
def test_a_user_gets_their_own_enabled_endpoints_and_nobody_elses(
    server: None, alice: User, bob: User
) -> None:
    own_endpoint(alice, "alices-vllm", key="sk-alice")
    own_endpoint(alice, "alices-old", enabled=False)
    own_endpoint(bob, "bobs-groq", key="sk-bob")

    alices = endpoints_for(alice)

    assert [e.name for e in alices] == ["openrouter", "ollama", "alices-vllm"]
    assert alices[-1].api_key == "sk-alice"
    assert [e.name for e in endpoints_for(bob)] == ["openrouter", "ollama", "bobs-groq"]
    assert [e.name for e in endpoints_for(AnonymousUser())] == ["openrouter", "ollama"]


@pytest.mark.django_db
def test_a_server_endpoint_added_later_wins_over_a_users_of_the_same_name(server: None, alice: User) -> None:
    own_endpoint(alice, "together", key="sk-alice")
    ProviderEndpoint.objects.create(name="together", base_url="https://api.together.xyz/v1")

    names = [e.name for e in endpoints_for(alice)]

    assert names.count("together") == 1
    assert by_name(endpoints_for(alice))["together"].base_url == "https://api.together.xyz/v1"


@pytest.mark.django_db
def test_a_users_unreadable_key_fails_closed_instead_of_falling_back_to_the_servers(
    server: None, alice: User, settings: Any
) -> None:
    give_key(alice, "openrouter", SENTINEL)
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]

    with pytest.raises(KeyUnavailable) as raised:
        endpoints_for(alice)
    assert raised.value.endpoint == "openrouter"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, message",
    [
        ("openrouter", "built-in endpoint"),
        ("simulated", "built-in endpoint"),
        ("ollama", "The server already has an endpoint called 'ollama'"),
        ("together", "The server already has an endpoint called 'together'"),
        ("mine", "You already have an endpoint called 'mine'"),
        ("Big Name", "lowercase"),
    ],
)
def test_endpoint_names_never_clash_where_a_user_would_meet_both(
    server: None, alice: User, name: str, message: str
) -> None:
    own_endpoint(None, "together")
    own_endpoint(alice, "mine")
    with pytest.raises(ValidationError, match=message):
        ProviderEndpoint(owner=alice, name=name, base_url="http://x/v1").full_clean()


@pytest.mark.django_db
def test_two_users_may_each_have_an_endpoint_of_the_same_name(
    settings: Any, server: None, alice: User, bob: User
) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"  # a loopback endpoint
    own_endpoint(alice, "local")
    ProviderEndpoint(owner=bob, name="local", base_url="http://127.0.0.1:11434/v1").full_clean()


# -- the client ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_client_routes_qualified_ids_by_endpoint_and_the_rest_to_the_first() -> None:
    router = client_for([Endpoint(name="openrouter", base_url="http://a/v1"), OLLAMA]).inner
    assert isinstance(router, ModelRouter)

    default, model = router.route("openai/gpt-5.5")
    other, local = router.route("ollama::llama3.3")

    assert isinstance(default, OpenAICompatibleClient) and default.endpoint.name == "openrouter"
    assert model == "openai/gpt-5.5"
    assert isinstance(other, OpenAICompatibleClient) and other.endpoint.name == "ollama"
    assert local == "llama3.3"


def test_a_client_needs_an_endpoint() -> None:
    with pytest.raises(ValueError):
        client_for([])


# -- a real run with a user's key: the key goes to the endpoint and nowhere else ------------------

SIM_MODELS = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"]


@pytest_asyncio.fixture
async def sim_with_key(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """The simulator as an endpoint that wants the key the test names (param)."""
    async with Simulator(time_scale=0, api_key=request.param) as simulator:
        yield simulator


def _make_run_on(owner: User, endpoint: str) -> Run:
    conversation = Conversation.objects.create(owner=owner)
    panel = Panel.objects.create(
        owner=owner,
        name="On the simulator",
        seats=[f"{endpoint}::{model}" for model in SIM_MODELS],
        judge=f"{endpoint}::{SIM_MODELS[0]}",
    )
    return create_turn_and_run(conversation, "Why is the sky blue?", panel, simulated=True)


def _everything_saved_about(run: Run) -> str:
    row = Run.objects.get(pk=run.pk)
    answers = list(SeatAnswer.objects.filter(run=row).values())
    return repr(Run.objects.filter(pk=run.pk).values().get()) + repr(answers) + row.fused_text


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sim_with_key, accepted",
    [(SENTINEL, True), ("sk-the-key-the-endpoint-wants", False)],
    indirect=["sim_with_key"],
)
async def test_a_users_key_never_reaches_the_logs_the_frames_or_the_saved_run(
    sim_with_key: Simulator,
    accepted: bool,
    alice: User,
    settings: Any,
    channel_layer: BaseChannelLayer,
    caplog: pytest.LogCaptureFixture,
    no_catalog: None,
) -> None:
    settings.FUSIONROOM_DEMO = False
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [Endpoint(name="sim", base_url=sim_with_key.base_url)]
    for logger in ("", "httpx", "httpcore", "chat", "aiohttp", "asyncio", "django"):
        caplog.set_level(logging.DEBUG, logger=logger)
    await sync_to_async(give_key)(alice, "sim", SENTINEL)
    run = await sync_to_async(_make_run_on)(alice, "sim")
    endpoints = await sync_to_async(endpoints_for)(alice)
    viewer = await listen(channel_layer, run_group(run.pk))

    dispatch.execute_here(
        run.pk,
        services.current().replace(client_for=lambda _: client_for(endpoints), pacing=Pacing(0.05, 0.01)),
    )
    await wait_for_run(run.pk)

    frames = await receive_until(channel_layer, viewer, is_final)
    seats = [seat async for seat in SeatAnswer.objects.filter(run_id=run.pk)]
    # The key did go out, on every call, as the Authorization header.
    assert len(sim_with_key.requests) >= len(SIM_MODELS)
    if accepted:
        assert all(seat.status == SeatAnswer.Status.DONE for seat in seats)
    else:
        assert all(seat.error == "The provider rejected the API key." for seat in seats)
        assert any(record.status == 401 for record in sim_with_key.requests)
    # ...and nowhere else.
    assert caplog.records
    for record in caplog.records:
        assert SENTINEL not in record.getMessage()
        assert SENTINEL not in repr(record.args) and SENTINEL not in str(record.exc_text)
    assert SENTINEL not in caplog.text
    assert frames and not [frame for frame in frames if SENTINEL in json.dumps(frame)]
    assert SENTINEL not in await sync_to_async(_everything_saved_about)(run)


def test_runs_call_models_through_the_configured_timeouts_and_retries(settings: Any) -> None:
    from chat.endpoints.resolve import client_for
    from chat.providers.resilience import ResilientClient
    from chat.providers.types import Endpoint

    settings.FUSIONROOM_TIMEOUT_STALL = 7.5
    settings.FUSIONROOM_RETRY_ATTEMPTS = 5

    async def build() -> ResilientClient:
        return client_for([Endpoint(name="openrouter", base_url="https://openrouter.ai/api/v1")])

    client = asyncio.run(build())
    assert isinstance(client, ResilientClient)
    assert client.timeouts.stall == 7.5 and client.policy.attempts == 5
