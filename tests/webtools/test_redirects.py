"""Every redirect hop is checked like the first URL: scheme, host, port, addresses and domain policy."""

from __future__ import annotations

import asyncio

import pytest

from chat.webtools import DomainPolicy, WebToolsError
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Resolver, http_response

OTHER_PUBLIC_IP = "151.101.1.140"


def _redirecting(location: str):  # type: ignore[no-untyped-def]
    """Answers /start with a 302 to `location`; every other path with a page naming it."""

    async def respond(request: bytes, writer: asyncio.StreamWriter) -> None:
        path = request.split(b" ")[1].decode()
        if path == "/start":
            writer.write(http_response(status="302 Found", headers=[("Location", location)]))
        else:
            writer.write(http_response(f"<p>landed on {path}</p>"))
        await writer.drain()

    return respond


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://rebind.example/", "rebind.example resolves to 127.0.0.1, which is a loopback address"),
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
        ("http://10.0.0.1/admin", "10.0.0.1 is a private address"),
        ("file:///etc/passwd", "file: is not allowed"),
        ("gopher://public.example/", "gopher: is not allowed"),
        ("http://user@public.example/", "user-info"),
        ("http://public.example:6379/", "port 6379 is not allowed"),
        ("http://public.example\\@127.0.0.1/", "backslash"),
    ],
)
async def test_a_redirect_to_a_forbidden_place_is_refused_before_connecting(
    location, reason, listen, make_fetcher
):
    listener = await listen(_redirecting(location))
    network = FakeNetwork(route_to=listener)
    resolver = Resolver({"public.example": [PUBLIC_IP], "rebind.example": ["127.0.0.1"]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    with pytest.raises(WebToolsError) as refused:
        await fetcher.fetch("http://public.example/start")

    assert refused.value.message.startswith("Refused: ")
    assert reason in refused.value.message
    assert network.attempts == [(PUBLIC_IP, 80)]
    assert listener.connections == 1


@pytest.mark.asyncio
async def test_a_redirect_to_a_loopback_listener_never_reaches_it(listen, make_fetcher):
    secret = await listen(lambda request, writer: asyncio.sleep(0))
    start = await listen(_redirecting(f"http://127.0.0.1:{secret.port}/"))
    fetcher = make_fetcher(allow_hosts=[start.host], extra_ports=[secret.port])

    with pytest.raises(WebToolsError, match="127.0.0.1 is a loopback address"):
        await fetcher.fetch(f"{start.url}/start")

    assert start.connections == 1
    assert secret.connections == 0


@pytest.mark.asyncio
async def test_a_redirect_to_a_blocked_domain_is_refused(listen, make_fetcher):
    listener = await listen(_redirecting("https://Tracker.Ads.example./pixel"))
    network = FakeNetwork(route_to=listener)
    fetcher = make_fetcher(network=network, resolver=Resolver({"public.example": [PUBLIC_IP]}))
    policy = DomainPolicy(blocked_fetch_domains=["ads.example"])

    with pytest.raises(WebToolsError, match=r"Refused: tracker\.ads\.example is blocked for fetching"):
        await fetcher.fetch("http://public.example/start", policy=policy)

    assert network.attempts == [(PUBLIC_IP, 80)]


@pytest.mark.asyncio
async def test_it_follows_a_redirect_to_another_public_host_dialling_its_checked_address(
    listen, make_fetcher
):
    listener = await listen(_redirecting("http://Elsewhere.example/landing?from=start"))
    network = FakeNetwork(route_to=listener)
    resolver = Resolver({"public.example": [PUBLIC_IP], "elsewhere.example": [OTHER_PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    page = await fetcher.fetch("http://public.example/start")

    assert page.url == "http://elsewhere.example/landing?from=start"
    assert network.attempts == [(PUBLIC_IP, 80), (OTHER_PUBLIC_IP, 80)]
    assert resolver.calls == ["public.example", "elsewhere.example"]
    assert b"host: elsewhere.example\r\n" in listener.requests[1].lower()


@pytest.mark.asyncio
async def test_it_follows_a_relative_redirect_and_reports_the_final_url(listen, make_fetcher):
    listener = await listen(_redirecting("/landing?from=start"))
    network = FakeNetwork(route_to=listener)
    fetcher = make_fetcher(network=network, resolver=Resolver({"public.example": [PUBLIC_IP]}))

    page = await fetcher.fetch("http://public.example/start")

    assert page.url == "http://public.example/landing?from=start"
    assert "landed on /landing?from=start" in page.text


def _hops(request: bytes, writer: asyncio.StreamWriter):  # type: ignore[no-untyped-def]
    path = request.split(b" ")[1].decode()
    left = int(path.rsplit("/", 1)[-1])
    if left:
        writer.write(http_response(status="301 Moved", headers=[("Location", f"/hop/{left - 1}")]))
    else:
        writer.write(http_response("<p>the end of the chain</p>"))
    return writer.drain()


@pytest.mark.asyncio
async def test_it_follows_three_redirects(listen, make_fetcher):
    listener = await listen(_hops)
    fetcher = make_fetcher(allow_hosts=[listener.host])

    page = await fetcher.fetch(f"{listener.url}/hop/3")

    assert page.url == f"{listener.url}/hop/0"
    assert listener.connections == 4


@pytest.mark.asyncio
async def test_it_refuses_a_fourth_redirect(listen, make_fetcher):
    listener = await listen(_hops)
    fetcher = make_fetcher(allow_hosts=[listener.host])

    with pytest.raises(WebToolsError, match="redirects more than 3 times"):
        await fetcher.fetch(f"{listener.url}/hop/4")

    assert listener.connections == 4
