"""WebTools applies the run's domain policy to what a search returns and what a fetch may reach."""

from __future__ import annotations

import pytest

from chat.webtools import NOT_CONFIGURED, DomainPolicy, SearchResult, WebTools, WebToolsError
from tests.webtools.conftest import PUBLIC_IP, FakeNetwork, Resolver, http_response, replying


class FakeSearch:
    """A search backend with canned results that records each query and limit."""

    name = "Fake"

    def __init__(self, urls: list[str]) -> None:
        self.results = [SearchResult(title=f"Result {n}", url=url, snippet="…") for n, url in enumerate(urls)]
        self.calls: list[tuple[str, int]] = []

    async def search(self, query: str, *, limit: int) -> list[SearchResult]:
        self.calls.append((query, limit))
        return self.results[:limit]


@pytest.mark.asyncio
async def test_search_leaves_out_excluded_domains_and_their_subdomains(make_fetcher):
    backend = FakeSearch(
        [
            "https://www.pinterest.com/pin/1",
            "https://good.example/a",
            "https://PINTEREST.com./b",
            "https://notpinterest.com/c",
            "https://spam.example/d",
        ]
    )
    policy = DomainPolicy(excluded_search_domains=["pinterest.com", "SPAM.example"])
    tools = WebTools(backend, make_fetcher(), policy)

    results = await tools.search("  pins   and   boards ")

    assert [result.url for result in results] == ["https://good.example/a", "https://notpinterest.com/c"]
    assert backend.calls == [("pins and boards", 16)]


@pytest.mark.asyncio
async def test_search_drops_duplicates_and_keeps_the_limit(make_fetcher):
    backend = FakeSearch([f"https://site.example/{n % 4}" for n in range(12)])
    tools = WebTools(backend, make_fetcher(), DomainPolicy(), result_limit=3)

    results = await tools.search("q")

    assert [result.url for result in results] == [f"https://site.example/{n}" for n in range(3)]


@pytest.mark.asyncio
async def test_search_without_a_backend_says_what_to_configure(make_fetcher):
    tools = WebTools(None, make_fetcher(), DomainPolicy())

    with pytest.raises(WebToolsError) as failed:
        await tools.search("anything")

    assert failed.value.message == NOT_CONFIGURED
    assert "FUSIONROOM_SEARCH_BACKEND" in NOT_CONFIGURED
    assert tools.can_search is False


@pytest.mark.asyncio
@pytest.mark.parametrize(("query", "message"), [("   ", "empty"), ("x" * 401, "too long")])
async def test_search_refuses_empty_and_overlong_queries(query, message, make_fetcher):
    backend = FakeSearch([])
    tools = WebTools(backend, make_fetcher(), DomainPolicy())

    with pytest.raises(WebToolsError, match=message):
        await tools.search(query)

    assert backend.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    ["https://intranet.example/", "https://WIKI.Intranet.Example./page", "http://a.b.intranet.example/"],
)
async def test_fetch_refuses_blocked_domains_without_connecting(url, make_fetcher):
    network = FakeNetwork()
    resolver = Resolver({"intranet.example": [PUBLIC_IP]})
    policy = DomainPolicy.merge(DomainPolicy(blocked_fetch_domains=["intranet.example"]), DomainPolicy())
    tools = WebTools(None, make_fetcher(network=network, resolver=resolver), policy)

    with pytest.raises(WebToolsError, match=r"Refused: .*intranet\.example is blocked for fetching"):
        await tools.fetch(url)

    assert network.attempts == []
    assert resolver.calls == []


@pytest.mark.asyncio
async def test_fetch_reads_a_domain_that_only_looks_like_a_blocked_one(listen, make_fetcher):
    listener = await listen(replying(http_response("<p>a different site</p>")))
    network = FakeNetwork(route_to=listener)
    fetcher = make_fetcher(network=network, resolver=Resolver({"notintranet.example": [PUBLIC_IP]}))
    tools = WebTools(None, fetcher, DomainPolicy(blocked_fetch_domains=["intranet.example"]))

    page = await tools.fetch("http://notintranet.example/")

    assert "a different site" in page.text
