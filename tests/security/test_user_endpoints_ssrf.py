"""Server-side request forgery through a user's own endpoint, tried as an attacker would.

Alice adds "her endpoint" pointing at the server's own loopback, a private network or the
cloud metadata address, in every spelling of the address, or at a name that resolves there.
A real socket listens where she points: no test passes unless nothing ever connected to it,
whether the row is being saved or was stored before the rules and is used by a run or the
catalog.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from chat.endpoints import guard
from chat.endpoints.catalog import load_catalog
from chat.endpoints.resolve import client_for, endpoints_for
from chat.models import ProviderEndpoint
from chat.providers.catalog import CatalogCache, fetch_catalog
from chat.providers.client import endpoint_url
from chat.providers.errors import ProviderError
from chat.providers.http_errors import error_from_response
from chat.providers.types import ChatRequest, Endpoint
from fusionroom.env import env_choice
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Listener, Resolver, http_response, replying

pytestmark = pytest.mark.django_db


class Trap:
    """A listening socket nobody should reach: a finished TCP handshake waits in its backlog, so
    `reached()` is True if anything connected, even if it hung up at once."""

    def __init__(self, family: socket.AddressFamily, host: str) -> None:
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.bind((host, 0))
        self.socket.listen(8)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def reached(self) -> bool:
        try:
            connection, _ = self.socket.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True


@pytest.fixture
def trap() -> Iterator[Trap]:
    listener = Trap(socket.AF_INET, "127.0.0.1")
    yield listener
    listener.socket.close()


@pytest.fixture
def trap_at() -> Iterator[Any]:
    made: list[Trap] = []

    def make(family: socket.AddressFamily, host: str) -> Trap:
        try:
            listener = Trap(family, host)
        except OSError:
            pytest.skip(f"cannot listen on {host} here")
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.socket.close()


@pytest.fixture
def to_loopback(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    """Names as an attacker's DNS would answer them: to loopback, to metadata, or (at first) public."""
    resolver = Resolver(
        {
            "models.attacker.example": ["127.0.0.1"],
            "metadata.attacker.example": ["169.254.169.254"],
            "dual.attacker.example": [PUBLIC_IP, "127.0.0.1"],
            "public.example": [PUBLIC_IP],
        }
    )
    monkeypatch.setattr(guard, "resolver", resolver)
    return resolver


def add(client: Client, base_url: str, name: str = "mine") -> Any:
    return client.post("/settings/endpoints/new/", {"name": name, "base_url": base_url, "enabled": "on"})


def page(response: Any) -> str:
    return str(response.content.decode())


def stored(owner: User, base_url: str, name: str = "mine") -> ProviderEndpoint:
    """A row saved before the rules (or by a bug): created without validation."""
    return ProviderEndpoint.objects.create(owner=owner, name=name, base_url=base_url)


LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:{port}/v1",
    "http://2130706433:{port}/v1",  # decimal
    "http://0177.0.0.1:{port}/v1",  # octal
    "http://0x7f.0.0.1:{port}/v1",  # hex
    "http://0x7f000001:{port}/v1",
    "http://127.1:{port}/v1",
    "http://[::ffff:127.0.0.1]:{port}/v1",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{port}/v1",
    "http://models.attacker.example:{port}/v1",  # a name that resolves to loopback
    "http://MODELS.attacker.example.:{port}/v1",
]


# -- saving an endpoint ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_an_endpoint_at_loopback_in_any_spelling_is_refused_when_saved(
    as_alice: Client, trap: Trap, to_loopback: Resolver, spelling: str
) -> None:
    response = add(as_alice, spelling.format(port=trap.port))

    assert response.status_code == 422
    assert "Refused:" in page(response) and "loopback" in page(response)
    assert not ProviderEndpoint.objects.exists()
    assert not trap.reached()


@pytest.mark.parametrize(
    "family, host, url",
    [
        (socket.AF_INET, "127.0.0.2", "http://127.0.0.2:{port}/v1"),
        (socket.AF_INET6, "::1", "http://[::1]:{port}/v1"),
    ],
)
def test_other_loopback_addresses_are_refused_when_saved(
    as_alice: Client, trap_at: Any, family: socket.AddressFamily, host: str, url: str
) -> None:
    listener = trap_at(family, host)

    response = add(as_alice, url.format(port=listener.port))

    assert response.status_code == 422 and "loopback" in page(response)
    assert not listener.reached()


@pytest.mark.parametrize(
    "base_url, reason",
    [
        ("http://169.254.169.254/latest", "metadata"),
        ("http://[fd00:ec2::254]/v1", "metadata"),
        ("http://metadata.attacker.example/v1", "metadata"),
        ("http://10.0.0.5:8000/v1", "private"),
        ("http://192.168.1.10/v1", "private"),
        ("http://169.254.10.10/v1", "link-local"),
        ("http://[fe80::1]/v1", "link-local"),
        ("http://0.0.0.0:8000/v1", "unspecified"),
        ("http://[::]:8000/v1", "unspecified"),
        ("http://dual.attacker.example/v1", "loopback"),
    ],
)
def test_private_link_local_metadata_and_unspecified_addresses_are_refused(
    as_alice: Client, to_loopback: Resolver, base_url: str, reason: str
) -> None:
    response = add(as_alice, base_url)

    assert response.status_code == 422
    assert reason in page(response)
    assert not ProviderEndpoint.objects.exists()


@pytest.mark.parametrize(
    "base_url, says",
    [
        ("https://api.example.com/v1?x=/admin", "no query"),
        ("https://api.example.com/v1?", "no query"),
        ("https://api.example.com/v1#", "no fragment"),
        ("https://api.example.com/v1#/../admin", "no fragment"),
        ("https://api.example.com/v1/../admin", "&#x27;..&#x27; segment"),
        ("https://api.example.com/v1/%2e%2e/admin", "encoded dot"),
        ("https://api.example.com/v1/%2E./admin", "encoded dot"),
        ("https://api.example.com//127.0.0.1/v1", "empty"),
        ("https://api.example.com/v1/./", "&#x27;.&#x27;"),
        ("https://api.example.com\\@127.0.0.1/v1", "user name or password"),
        ("https://api.example.com\\v1", "backslash"),
        ("http://user:password@api.example.com/v1", "user name or password"),
        ("http://token@api.example.com/v1", "user name or password"),
    ],
)
def test_a_base_url_that_could_leave_its_path_is_refused_with_a_readable_message(
    as_alice: Client, base_url: str, says: str
) -> None:
    response = add(as_alice, base_url)

    assert response.status_code == 422
    assert says in page(response)
    assert not ProviderEndpoint.objects.exists()


def test_a_public_endpoint_is_saved(as_alice: Client, alice: User, to_loopback: Resolver) -> None:
    assert add(as_alice, "https://public.example/openai/v1").status_code == 302
    assert ProviderEndpoint.objects.filter(owner=alice, name="mine").exists()


def test_editing_an_endpoint_to_loopback_is_refused(
    as_alice: Client, alice: User, trap: Trap, to_loopback: Resolver
) -> None:
    row = stored(alice, "https://public.example/v1")
    response = as_alice.post(
        f"/settings/endpoints/{row.pk}/", {"name": "mine", "base_url": f"http://127.1:{trap.port}/v1"}
    )

    assert response.status_code == 422 and "loopback" in page(response)
    row.refresh_from_db()
    assert row.base_url == "https://public.example/v1"
    assert not trap.reached()


# -- a row stored before the rules, used by the catalog and by a run ------------------------------------


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_the_catalog_never_connects_to_a_stored_loopback_endpoint(
    alice: User, trap: Trap, to_loopback: Resolver, spelling: str
) -> None:
    stored(alice, spelling.format(port=trap.port))

    catalog = asyncio.run(load_catalog(endpoints_for(alice)))

    assert "mine" in catalog.down and "loopback" in catalog.down["mine"]
    assert not trap.reached()


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_a_run_never_connects_to_a_stored_loopback_endpoint(
    alice: User, trap: Trap, to_loopback: Resolver, spelling: str
) -> None:
    stored(alice, spelling.format(port=trap.port))
    endpoints = endpoints_for(alice)

    async def ask() -> Any:
        return await client_for(endpoints).complete(
            ChatRequest(model="mine::llama3", messages=[{"role": "user", "content": "hi"}])
        )

    with pytest.raises(ProviderError, match="loopback") as raised:
        asyncio.run(ask())
    assert raised.value.kind == "config" and not raised.value.retryable
    assert not trap.reached()


def test_a_name_that_rebinds_to_loopback_after_it_was_saved_is_refused_at_connect(
    as_alice: Client, alice: User, trap: Trap, to_loopback: Resolver
) -> None:
    assert add(as_alice, f"http://rebind.attacker.example:{trap.port}/v1").status_code == 302  # no answer yet
    to_loopback.answers["rebind.attacker.example"] = ["127.0.0.1"]

    catalog = asyncio.run(load_catalog(endpoints_for(alice)))

    assert "resolves to 127.0.0.1" in catalog.down["mine"]
    assert not trap.reached()


def test_a_stored_endpoint_with_user_info_shows_in_the_builder_as_down_not_a_500(
    as_alice: Client, alice: User, trap: Trap
) -> None:
    stored(alice, f"http://user:password@127.0.0.1:{trap.port}/v1")

    response = as_alice.get("/panels/new/")

    assert response.status_code == 200
    assert "user-info" in page(response)
    assert "password@" not in page(response)
    assert not trap.reached()


def test_the_vetted_address_is_the_one_connected_to(to_loopback: Resolver) -> None:
    """A public name is resolved once per connection and the socket goes to that very address."""

    async def fetch() -> tuple[list[tuple[str, int]], list[str]]:
        listener = await Listener(replying(http_response(json.dumps({"data": [{"id": "m"}]})))).start()
        network = FakeNetwork(route_to=listener)
        async with guard.create_user_http_client(network) as http:
            endpoint = Endpoint(name="mine", base_url="http://public.example:8000/v1", owner_id=1)
            models = await fetch_catalog(endpoint, http)
        await listener.stop()
        return network.attempts, [model.id for model in models]

    attempts, models = asyncio.run(fetch())

    assert attempts == [(PUBLIC_IP, 8000)] and models == ["m"]
    assert to_loopback.calls == ["public.example"]


# -- the setting -----------------------------------------------------------------------------------------


@pytest.fixture
def local_models() -> Iterator[str]:
    """An Ollama-like server on loopback that lists one model."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"data": [{"id": "llama3"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_any_lets_a_single_user_install_use_its_own_ollama_on_loopback(
    settings: Any, as_alice: Client, alice: User, local_models: str
) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"

    assert add(as_alice, local_models).status_code == 302
    catalog = asyncio.run(load_catalog(endpoints_for(alice)))

    assert "mine::llama3" in catalog and "mine" not in catalog.down


def test_any_still_refuses_a_base_url_that_could_leave_its_path(settings: Any, as_alice: Client) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "any"

    response = add(as_alice, "http://127.0.0.1:11434/v1?next=/admin")

    assert response.status_code == 422 and "no query" in page(response)


def test_off_refuses_new_endpoints_and_says_so_on_settings(settings: Any, as_alice: Client) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "off"

    response = add(as_alice, "https://api.groq.com/openai/v1")

    assert response.status_code == 403
    assert not ProviderEndpoint.objects.exists()
    settings_page = page(as_alice.get("/settings/"))
    assert guard.OFF_MESSAGE in settings_page
    assert "Add an endpoint" not in settings_page


def test_off_leaves_stored_endpoints_unused(settings: Any, alice: User, trap: Trap) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "off"
    stored(alice, f"http://127.0.0.1:{trap.port}/v1")

    endpoints = endpoints_for(alice)
    catalog = asyncio.run(load_catalog(endpoints))

    assert "mine" not in {endpoint.name for endpoint in endpoints}
    assert not any(ref.startswith("mine::") for ref in catalog.infos())
    assert not trap.reached()


def test_off_refuses_a_users_endpoint_that_reaches_the_client_anyway(settings: Any, trap: Trap) -> None:
    settings.FUSIONROOM_USER_ENDPOINTS = "off"
    endpoint = Endpoint(name="mine", base_url=f"http://127.0.0.1:{trap.port}/v1", owner_id=1)

    catalog = asyncio.run(load_catalog([endpoint]))

    assert guard.OFF_MESSAGE in catalog.down["mine"]
    assert not trap.reached()


def test_an_unknown_setting_stops_the_server_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONROOM_USER_ENDPOINTS", "everything")
    with pytest.raises(
        ImproperlyConfigured, match="FUSIONROOM_USER_ENDPOINTS must be one of off, public, any"
    ):
        env_choice("FUSIONROOM_USER_ENDPOINTS", ("off", "public", "any"), "public")


def test_the_operators_endpoints_stay_trusted(settings: Any, trap: Trap) -> None:
    """The operator's endpoint on loopback (their own Ollama) is called: it is not a user's."""
    operator = Endpoint(name="ollama", base_url=f"http://127.0.0.1:{trap.port}/v1")

    with contextlib.suppress(Exception):
        asyncio.run(asyncio.wait_for(load_catalog([operator]), 1))

    assert trap.reached()


# -- what comes back, and what is shown ----------------------------------------------------------------


def error_for(endpoint: Endpoint, response: httpx.Response) -> str:
    response.request = httpx.Request("GET", "http://upstream.example/v1/models")
    return error_from_response(response, endpoint=endpoint).message


def test_a_users_endpoint_never_quotes_a_plain_text_body() -> None:
    mine = Endpoint(name="mine", base_url="https://public.example/v1", owner_id=1)
    message = error_for(mine, httpx.Response(500, text="root:x:0:0:root:/root:/bin/bash"))

    assert "root:x" not in message


def test_a_users_endpoint_error_is_quoted_only_briefly() -> None:
    mine = Endpoint(name="mine", base_url="https://public.example/v1", owner_id=1)
    secret = "a" * 150 + "SECRET-TAIL" + "b" * 300
    message = error_for(mine, httpx.Response(400, json={"error": {"message": secret}}))

    assert "a" * 50 in message and "SECRET-TAIL" not in message


def test_the_path_is_joined_under_the_base_url_even_with_a_query() -> None:
    operator = Endpoint(name="azure", base_url="https://gw.example/openai/v1?api-version=1#x")
    assert endpoint_url(operator, "models") == "https://gw.example/openai/v1/models?api-version=1"


def test_settings_never_shows_an_operator_base_url_to_a_user(
    settings: Any, as_alice: Client, django_user_model: type[User]
) -> None:
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [
        Endpoint(name="inhouse", base_url="http://gpu-7.corp.internal:8000/v1")
    ]
    ProviderEndpoint.objects.create(name="shared", base_url="http://10.1.2.3:8000/v1")

    user_page = page(as_alice.get("/settings/"))
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("root", is_staff=True))
    staff_page = page(staff.get("/settings/"))

    assert 'aria-label="Endpoint inhouse"' in user_page and 'aria-label="Endpoint shared"' in user_page
    assert "gpu-7.corp.internal" not in user_page and "10.1.2.3" not in user_page
    assert "gpu-7.corp.internal" in staff_page and "10.1.2.3" in staff_page


# -- the catalog cache -------------------------------------------------------------------------------------


def test_two_users_catalogs_never_mix_in_the_cache() -> None:
    answers = {"alices-key": ["alices-private-model"], "bobs-key": ["bobs-model"]}

    def respond(request: httpx.Request) -> httpx.Response:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        return httpx.Response(200, json={"data": [{"id": model} for model in answers[key]]})

    alices = Endpoint(name="gw", base_url="https://gw.example/v1", api_key="alices-key", owner_id=1)
    bobs = Endpoint(name="gw", base_url="https://gw.example/v1", api_key="bobs-key", owner_id=2)
    cache = CatalogCache(ttl_seconds=300)

    async def both() -> tuple[list[str], list[str]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as http:
            first = await cache.get(alices, http)
            second = await cache.get(bobs, http)
        return [m.id for m in first], [m.id for m in second]

    assert asyncio.run(both()) == (["alices-private-model"], ["bobs-model"])


def test_one_server_endpoint_with_two_users_keys_is_cached_apart() -> None:
    server = Endpoint(name="openrouter", base_url="https://openrouter.example/v1", api_key="server")
    with_own_key = server.model_copy(update={"api_key": "alices-own"})
    cache = CatalogCache(ttl_seconds=300)

    async def fill() -> None:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json={"data": [{"id": "m"}]}))
        ) as http:
            await cache.get(server, http)

    asyncio.run(fill())

    assert cache.cached(server) is not None and cache.cached(with_own_key) is None
