"""The run socket opens only for a page of this very site: scheme, host and port, or a configured origin."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User

from chat.models import Run
from fusionroom.origins import origin_allowed, parse_origin
from tests.sockets import run_socket, session_cookie


def scope(
    origin: str, host: str = "fusionroom.example", scheme: str = "wss", **headers: str
) -> dict[str, Any]:
    pairs = [(b"origin", origin.encode()), (b"host", host.encode())]
    pairs += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": pairs}


@pytest.fixture(autouse=True)
def production_like(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["fusionroom.example", "testserver"]
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.FUSIONROOM_SOCKET_ORIGINS = []


def test_the_sites_own_origin_is_allowed() -> None:
    assert origin_allowed(scope("https://fusionroom.example"))
    assert origin_allowed(scope("https://fusionroom.example:443", host="fusionroom.example"))
    assert origin_allowed(
        scope("http://fusionroom.example:8000", host="fusionroom.example:8000", scheme="ws")
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://fusionroom.example:8443",  # another port of the same host
        "http://fusionroom.example",  # another scheme of the same host
        "https://evil.example",
        "https://fusionroom.example.evil.example",
        "null",
        "",
        "file://fusionroom.example",
        "https://[bad",
    ],
)
def test_another_origin_is_refused(origin: str) -> None:
    assert not origin_allowed(scope(origin))


def test_a_host_outside_allowed_hosts_is_refused_even_when_it_matches() -> None:
    assert not origin_allowed(scope("https://evil.example", host="evil.example"))


def test_a_configured_origin_is_allowed(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example"]
    settings.FUSIONROOM_SOCKET_ORIGINS = ["https://fusionroom.example:8443/"]

    assert origin_allowed(scope("https://chat.example"))
    assert origin_allowed(scope("https://fusionroom.example:8443"))
    assert not origin_allowed(scope("https://chat.example:444"))


def test_behind_a_tls_proxy_the_trusted_header_gives_the_scheme(settings: Any) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert origin_allowed(scope("https://fusionroom.example", scheme="ws", x_forwarded_proto="https"))
    assert not origin_allowed(scope("https://fusionroom.example", scheme="ws", x_forwarded_proto="http"))


def test_origins_are_compared_with_default_ports_filled_in() -> None:
    assert parse_origin("HTTPS://FusionRoom.Example") == ("https", "fusionroom.example", 443)
    assert parse_origin("http://fusionroom.example:80") == ("http", "fusionroom.example", 80)


# -- through the real ASGI application -----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"http://testserver:8080", b"https://testserver", b"http://evil.example"])
async def test_the_application_refuses_a_socket_from_another_origin(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer, origin: bytes
) -> None:
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(alice)
    async with run_socket(alice_run.pk, cookie, origin=origin) as communicator:
        connected, _ = await communicator.connect()
        assert not connected


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_application_accepts_the_sites_own_origin(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(alice)
    async with run_socket(alice_run.pk, cookie, origin=b"http://testserver") as communicator:
        connected, _ = await communicator.connect()
        assert connected
