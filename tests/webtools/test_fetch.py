"""What the fetcher reads, sends and stops at, against local listeners standing in for web servers."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib

import pytest

from chat.webtools import USER_AGENT, WebToolsError
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Resolver, http_response, replying


@pytest.mark.asyncio
async def test_it_returns_the_readable_text_of_a_page(listen, make_fetcher, article_html):
    listener = await listen(replying(http_response(article_html)))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    page = await fetcher.fetch(f"{listener.url}/winter#bread")

    assert page.url == f"{listener.url}/winter"
    assert page.title == "Sourdough in winter"
    assert "Paragraph 3 explains how sourdough starters behave" in page.text
    assert "do not read me" not in page.text
    assert page.truncated is False


@pytest.mark.asyncio
async def test_it_sends_a_fixed_user_agent_and_nothing_of_ours(listen, make_fetcher, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-secret")
    listener = await listen(replying(http_response("<p>hello</p>")))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    await fetcher.fetch(f"{listener.url}/")

    head = listener.requests[0].decode().lower()
    assert f"user-agent: {USER_AGENT.lower()}\r\n" in head
    assert "fusionroom" in USER_AGENT.lower()
    assert "accept-encoding: gzip, deflate\r\n" in head
    assert "cookie" not in head
    assert "authorization" not in head
    assert "sk-or-secret" not in head


@pytest.mark.asyncio
async def test_it_never_sends_back_a_cookie_a_page_set(listen, make_fetcher):
    async def respond(request: bytes, writer: asyncio.StreamWriter) -> None:
        path = request.split(b" ")[1]
        if path == b"/login":
            writer.write(
                http_response(status="302 Found", headers=[("Location", "/next"), ("Set-Cookie", "s=1")])
            )
        else:
            writer.write(http_response("<p>next page</p>", headers=[("Set-Cookie", "t=2; Path=/")]))
        await writer.drain()

    listener = await listen(respond)
    fetcher = make_fetcher(allow_hosts=[listener.host])

    await fetcher.fetch(f"{listener.url}/login")
    await fetcher.fetch(f"{listener.url}/again")

    assert len(listener.requests) == 3
    assert all(b"cookie" not in head.lower() for head in listener.requests)


@pytest.mark.asyncio
async def test_it_ignores_proxies_from_the_environment(listen, make_fetcher, monkeypatch):
    proxy = await listen(replying(http_response("<p>the proxy answered</p>")))
    page = await listen(replying(http_response("<p>the page itself</p>")))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    fetcher = make_fetcher(allow_hosts=[page.host])

    fetched = await fetcher.fetch(f"{page.url}/")

    assert "the page itself" in fetched.text
    assert proxy.connections == 0
    assert page.connections == 1


@pytest.mark.asyncio
async def test_it_connects_to_the_address_it_checked_and_resolves_once(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>public page</p>")))
    network = FakeNetwork(route_to=listener)
    resolver = Resolver({"news.example": [PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    page = await fetcher.fetch("http://news.example/today")
    # A rebinding DNS server would now answer loopback: the connection already went.
    resolver.answers["news.example"] = ["127.0.0.1"]

    assert "public page" in page.text
    assert network.attempts == [(PUBLIC_IP, 80)]
    assert resolver.calls == ["news.example"]
    assert b"host: news.example\r\n" in listener.requests[0].lower()


@pytest.mark.asyncio
async def test_a_public_ipv6_literal_is_dialled_as_it_is(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>over IPv6</p>")))
    network = FakeNetwork(route_to=listener)
    resolver = Resolver()
    fetcher = make_fetcher(network=network, resolver=resolver)

    page = await fetcher.fetch("http://[2606:4700:0:0::1111]/")

    assert "over IPv6" in page.text
    assert network.attempts == [("2606:4700::1111", 80)]
    assert resolver.calls == []


@pytest.mark.asyncio
async def test_a_name_that_rebinds_to_loopback_is_refused_on_its_next_connection(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>public page</p>")))
    network = FakeNetwork(route_to=listener)
    resolver = Resolver({"news.example": [PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)
    await fetcher.fetch("http://news.example/")
    resolver.answers["news.example"] = ["127.0.0.1"]

    with pytest.raises(WebToolsError, match="news.example resolves to 127.0.0.1, which is a loopback"):
        await fetcher.fetch("http://news.example/again")

    assert network.attempts == [(PUBLIC_IP, 80)]


@pytest.mark.asyncio
async def test_it_tries_the_next_checked_address_when_one_does_not_answer(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>second address</p>")))

    class FirstAddressDown(FakeNetwork):
        async def connect_tcp(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not self.attempts:
                self.attempts.append((host, port))
                import httpcore

                raise httpcore.ConnectError("unreachable")
            return await super().connect_tcp(host, port, *args, **kwargs)

    network = FirstAddressDown(route_to=listener)
    resolver = Resolver({"dual.example": ["2606:4700::1111", PUBLIC_IP]})
    fetcher = make_fetcher(network=network, resolver=resolver)

    page = await fetcher.fetch("http://dual.example/")

    assert "second address" in page.text
    assert network.attempts == [("2606:4700::1111", 80), (PUBLIC_IP, 80)]


@pytest.mark.asyncio
async def test_it_cuts_the_text_to_the_token_budget_and_says_so(listen, make_fetcher, article_html):
    listener = await listen(replying(http_response(article_html)))
    fetcher = make_fetcher(allow_hosts=[listener.host], token_budget=50)

    page = await fetcher.fetch(f"{listener.url}/")

    body, marker = page.text.split("\n\n[Truncated: ")
    assert len(body) <= 200
    assert "50-token budget" in marker
    assert page.truncated is True


@pytest.mark.asyncio
async def test_it_reads_plain_text_and_drops_control_characters(listen, make_fetcher):
    text = "Line one\x00\x07\r\nLine   two\x1b[31m\n\n\n\nLine three"
    listener = await listen(replying(http_response(text, content_type="text/plain")))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    page = await fetcher.fetch(f"{listener.url}/notes.txt")

    assert page.text == "Line one\nLine two[31m\n\nLine three"
    assert page.title == f"{listener.url}/notes.txt"


@pytest.mark.asyncio
async def test_it_decodes_the_declared_charset(listen, make_fetcher):
    body = "<html><body><p>Crème brûlée, façade, naïve.</p></body></html>".encode("latin-1")
    listener = await listen(replying(http_response(body, content_type="text/html; charset=ISO-8859-1")))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    page = await fetcher.fetch(f"{listener.url}/")

    assert "Crème brûlée, façade, naïve." in page.text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content_type", ["application/pdf", "image/png", "application/octet-stream", "application/json", None]
)
async def test_it_refuses_content_it_does_not_read(content_type, listen, make_fetcher):
    listener = await listen(replying(http_response(b"%PDF-1.7 ...", content_type=content_type)))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    with pytest.raises(WebToolsError, match="only HTML and plain text pages are read"):
        await fetcher.fetch(f"{listener.url}/file")


@pytest.mark.asyncio
async def test_it_refuses_a_content_encoding_it_did_not_ask_for(listen, make_fetcher):
    listener = await listen(replying(http_response(b"\x1b\x00", headers=[("Content-Encoding", "br")])))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    with pytest.raises(WebToolsError, match="content encoding 'br'"):
        await fetcher.fetch(f"{listener.url}/")


@pytest.mark.asyncio
async def test_it_reads_gzip_and_deflate_bodies(listen, make_fetcher):
    html = b"<html><body><p>Compressed words arrive intact.</p></body></html>"
    gzipped = await listen(
        replying(http_response(gzip.compress(html), headers=[("Content-Encoding", "gzip")]))
    )
    deflated = await listen(
        replying(http_response(zlib.compress(html), headers=[("Content-Encoding", "deflate")]))
    )
    fetcher = make_fetcher(allow_hosts=[gzipped.host, deflated.host])

    for listener in (gzipped, deflated):
        page = await fetcher.fetch(f"{listener.url}/")
        assert "Compressed words arrive intact." in page.text


@pytest.mark.asyncio
async def test_it_says_what_status_a_page_answered(listen, make_fetcher):
    listener = await listen(replying(http_response("gone", status="404 Not Found")))
    fetcher = make_fetcher(allow_hosts=[listener.host])

    with pytest.raises(WebToolsError, match=r"answered HTTP 404 Not Found"):
        await fetcher.fetch(f"{listener.url}/missing")


async def _gzip_bomb(request: bytes, writer: asyncio.StreamWriter) -> None:
    """An endless gzipped page: about 1 MB of HTML per 2 KB sent, for up to 4 GB (it stops by itself)."""
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"<p>" + b"boom " * 200_000 + b"</p>"
    writer.write(compressor.compress(b"<html><body>"))
    for _ in range(4_000):
        writer.write(compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH))
        await writer.drain()
        await asyncio.sleep(0)  # drain() does not yield while the socket takes it all


@pytest.mark.asyncio
async def test_a_gzip_bomb_stops_at_the_decoded_size_cap_without_filling_memory(listen, make_fetcher):
    listener = await listen(_gzip_bomb)
    fetcher = make_fetcher(allow_hosts=[listener.host], max_bytes=2_000_000)

    tracemalloc.start()
    try:
        page = await fetcher.fetch(f"{listener.url}/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert page.truncated is True
    assert "[Truncated: only the first 2,000,000 bytes of the page were read.]" in page.text
    assert peak < 40 * 1024 * 1024


@pytest.mark.asyncio
async def test_an_endless_plain_body_stops_at_the_cap(listen, make_fetcher):
    async def endless(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        for _ in range(100_000):  # 6.5 GB at most, then it stops by itself
            writer.write(b"more words " * 6_000)
            await writer.drain()
            await asyncio.sleep(0)

    listener = await listen(endless)
    fetcher = make_fetcher(allow_hosts=[listener.host], max_bytes=100_000, token_budget=100_000)

    page = await fetcher.fetch(f"{listener.url}/endless")

    assert page.truncated is True
    assert len(page.text) < 101_000


@pytest.mark.asyncio
async def test_it_gives_up_on_a_server_that_never_answers(listen, make_fetcher):
    async def silent(request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    listener = await listen(silent)
    fetcher = make_fetcher(allow_hosts=[listener.host], total_seconds=0.3)

    with pytest.raises(WebToolsError, match=r"Timed out: fetching .* took longer than 0.3 s"):
        await fetcher.fetch(f"{listener.url}/")


@pytest.mark.asyncio
async def test_the_time_limit_covers_a_body_that_trickles(listen, make_fetcher):
    async def trickle(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        for _ in range(300):  # one byte every 0.1 s: never idle long enough for a read timeout
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.1)

    listener = await listen(trickle)
    fetcher = make_fetcher(allow_hosts=[listener.host], total_seconds=0.5)

    with pytest.raises(WebToolsError, match="Timed out"):
        await fetcher.fetch(f"{listener.url}/")


@pytest.mark.asyncio
async def test_a_connection_refused_is_a_readable_error(make_fetcher):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fetcher = make_fetcher(allow_hosts=[f"127.0.0.1:{port}"])

    with pytest.raises(WebToolsError, match="Could not fetch .*: could not connect"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/")
