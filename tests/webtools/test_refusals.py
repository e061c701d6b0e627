"""The fetcher refuses everything that is not the public web, before any connection is made."""

from __future__ import annotations

import pytest

from chat.webtools import WebToolsError
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Resolver, http_response, replying

# Spellings of this machine. Each is aimed at a real listener on 127.0.0.1 (its port is
# appended), so a broken check would reach it: its connection count proves nothing did.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "0x7f.0.0.1",
    "0x7f.1",
    "0177.0.0.1",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "127.0.0.1.",
    "１２７.０.０.１",
    "0.0.0.0",
    "0",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[::]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_it_refuses_every_spelling_of_loopback_without_connecting(host, listen, make_fetcher):
    listener = await listen(replying(http_response("secret admin page")))
    fetcher = make_fetcher(extra_ports=[listener.port])

    with pytest.raises(WebToolsError) as refused:
        await fetcher.fetch(f"http://{host}:{listener.port}/admin")

    assert refused.value.message.startswith("Refused: ")
    assert listener.connections == 0


@pytest.mark.asyncio
async def test_it_refuses_localhost_as_the_system_resolver_answers_it(listen, make_fetcher):
    listener = await listen(replying(http_response("secret admin page")))
    fetcher = make_fetcher(extra_ports=[listener.port])  # the real getaddrinfo

    with pytest.raises(WebToolsError, match=r"Refused: localhost resolves to .* loopback"):
        await fetcher.fetch(f"http://localhost:{listener.port}/")

    assert listener.connections == 0


# Addresses elsewhere: FakeNetwork records any attempt instead of sending a packet.
FORBIDDEN_ADDRESSES = [
    ("http://10.0.0.5/", "10.0.0.5 is a private address"),
    ("http://10.255.255.255/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://0x0a000001/", "10.0.0.1 is a private address"),
    ("http://012.0.0.1/", "10.0.0.1 is a private address"),
    ("http://167772161/", "10.0.0.1 is a private address"),
    ("http://[fc00::1]/", "private (unique local)"),
    ("http://[fd12:3456:789a::1]/", "private (unique local)"),
    ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "the cloud metadata address"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "wraps 169.254.169.254, the cloud metadata address"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[ff0e::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://198.19.255.254/", "benchmarking"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[2002:7f00:1::]/", "wraps 127.0.0.1, a loopback address"),
    ("http://[2002:a00:1::1]/", "wraps 10.0.0.1, a private address"),
    ("http://[64:ff9b::7f00:1]/", "wraps 127.0.0.1, a loopback address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "wraps 169.254.169.254"),
    ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ("http://[::ffff:10.0.0.1]/", "wraps 10.0.0.1, a private address"),
    ("http://[::10.0.0.1]/", "wraps 10.0.0.1, a private address"),
    ("http://[2001::1]/", "Teredo"),
    ("http://[fec0::1]/", "site-local"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "reason"), FORBIDDEN_ADDRESSES)
async def test_it_refuses_addresses_that_are_not_globally_routable(url, reason, make_fetcher):
    network = FakeNetwork()
    fetcher = make_fetcher(network=network, resolver=Resolver())

    with pytest.raises(WebToolsError) as refused:
        await fetcher.fetch(url)

    assert refused.value.message.startswith("Refused: ")
    assert reason in refused.value.message
    assert network.attempts == []


MALFORMED_URLS = [
    ("file:///etc/passwd", "file: is not allowed"),
    ("gopher://example.com:70/_GET", "gopher: is not allowed"),
    ("data:text/html,<h1>hi</h1>", "data: is not allowed"),
    ("ftp://example.com/file", "ftp: is not allowed"),
    ("javascript:alert(1)", "javascript: is not allowed"),
    ("dict://example.com:11211/stat", "dict: is not allowed"),
    ("//example.com/", "without a scheme"),
    ("example.com/page", "without a scheme"),
    ("http://user@example.com/", "user-info"),
    ("http://user:password@example.com/", "user-info"),
    ("http://a@b@c/", "user-info"),
    ("http://example.com@127.0.0.1/", "user-info"),
    ("http://example.com\\@127.0.0.1/", "backslash"),
    ("http://example.com\\.127.0.0.1/", "backslash"),
    ("http:\\\\127.0.0.1\\", "backslash"),
    ("http://example.com/\x00", "control"),
    ("http://example.com/\r\nHost: 127.0.0.1", "control"),
    ("http://exam\tple.com/", "control"),
    ("http://example.com/a b", "space"),
    (" http://example.com/", "space"),
    ("http://example.com/\u202e", "control"),
    ("http://exam\u200bple.com/", "control"),
    ("http://example.com\u3000/", "space"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("http:example.com", "no host"),
    ("http://:80/", "empty"),
    ("http://[::1/", "does not parse"),
    ("http://[fe80::1%25eth0]/", "not a valid IPv6 address"),
    ("http://[v1.fe80::1]/", "not a valid IPv6 address"),
    ("http://%31%32%37.0.0.1/", "percent-encoded"),
    ("http://example.com:/", "not a valid port"),
    ("http://example.com:0/", "out of range"),
    ("http://example.com:65536/", "out of range"),
    ("http://example.com:+80/", "not a valid port"),
    ("http://1.2.3.4.5/", "not a valid IPv4 address"),
    ("http://256.0.0.1/", "not a valid IPv4 address"),
    ("http://0x100000000/", "not a valid IPv4 address"),
    ("http://08.0.0.1/", "not a valid IPv4 address"),
    ("http://example.0x/", "not a valid IPv4 address"),
    ("http://-example.com/", "not a valid host name"),
    ("http://exa mple.com/", "space"),
    ("http://a..b/", "not a valid host name"),
    ("http://" + "a" * 64 + ".com/", "not a valid host name"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "reason"), MALFORMED_URLS)
async def test_it_refuses_urls_that_are_not_plain_http(url, reason, make_fetcher):
    network = FakeNetwork()
    resolver = Resolver({"example.com": [PUBLIC_IP], "c": [PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    with pytest.raises(WebToolsError) as refused:
        await fetcher.fetch(url)

    assert refused.value.message.startswith("Refused: ")
    assert reason in refused.value.message
    assert network.attempts == []
    assert resolver.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("port", [22, 25, 6379, 8080, 8443, 11211])
async def test_it_refuses_ports_other_than_80_and_443(port, make_fetcher):
    network = FakeNetwork()
    resolver = Resolver({"example.com": [PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    with pytest.raises(WebToolsError, match=f"Refused: port {port} is not allowed"):
        await fetcher.fetch(f"http://example.com:{port}/")

    assert network.attempts == []
    assert resolver.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answers",
    [
        [PUBLIC_IP, "10.0.0.5"],
        ["10.0.0.5", PUBLIC_IP],
        [PUBLIC_IP, "127.0.0.1"],
        ["2606:4700::1111", "::1"],
        [PUBLIC_IP, "::ffff:169.254.169.254"],
    ],
)
async def test_it_refuses_a_name_when_any_of_its_addresses_is_not_public(answers, make_fetcher):
    network = FakeNetwork()
    fetcher = make_fetcher(network=network, resolver=Resolver({"mixed.example": answers}))

    with pytest.raises(WebToolsError, match=r"Refused: mixed\.example resolves to "):
        await fetcher.fetch("https://mixed.example/")

    assert network.attempts == []


@pytest.mark.asyncio
async def test_it_refuses_a_name_that_resolves_to_loopback_without_connecting(listen, make_fetcher):
    listener = await listen(replying(http_response("secret admin page")))
    fetcher = make_fetcher(resolver=Resolver({"rebind.example": ["127.0.0.1"]}), extra_ports=[listener.port])

    with pytest.raises(
        WebToolsError, match=r"rebind\.example resolves to 127\.0\.0\.1, which is a loopback address"
    ):
        await fetcher.fetch(f"http://rebind.example:{listener.port}/")

    assert listener.connections == 0


@pytest.mark.asyncio
async def test_it_says_when_a_name_does_not_resolve(make_fetcher):
    network = FakeNetwork()
    fetcher = make_fetcher(network=network, resolver=Resolver())

    with pytest.raises(WebToolsError, match="Could not resolve nowhere.example"):
        await fetcher.fetch("https://nowhere.example/")

    assert network.attempts == []


@pytest.mark.asyncio
async def test_allow_hosts_lets_only_that_host_and_port_through(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>simulator page</p>")))
    other = await listen(replying(http_response("<p>something else on loopback</p>")))
    fetcher = make_fetcher(allow_hosts=[listener.host], extra_ports=[other.port, listener.port])

    page = await fetcher.fetch(f"{listener.url}/")
    with pytest.raises(WebToolsError, match="loopback"):
        await fetcher.fetch(f"{other.url}/")
    with pytest.raises(WebToolsError, match="localhost resolves to"):
        await fetcher.fetch(f"http://localhost:{listener.port}/")

    assert "simulator page" in page.text
    assert listener.connections == 1
    assert other.connections == 0


def test_allow_hosts_entries_must_be_host_and_port():
    from chat.webtools import SafeFetcher

    with pytest.raises(ValueError, match="host:port"):
        SafeFetcher(allow_hosts=frozenset({"127.0.0.1"}))
