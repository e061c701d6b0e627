"""The simulator's pocket web: search it like SearXNG, fetch what it finds, offline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from chat.simulator import Simulator
from chat.webtools import DomainPolicy, SafeFetcher, SearxngBackend, WebTools, WebToolsError


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(time_scale=0) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def tools(sim: Simulator) -> AsyncIterator[WebTools]:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        SafeFetcher(allow_hosts=frozenset({sim.web_host})) as fetcher,
    ):
        yield WebTools(SearxngBackend(sim.web_url, http), fetcher, DomainPolicy())


@pytest.mark.asyncio
async def test_search_finds_the_same_simulated_pages_every_time(tools, sim):
    first = await tools.search("PostgreSQL or SQLite for a small team?")
    again = await tools.search("PostgreSQL or SQLite for a small team?")

    assert first == again
    assert len(first) == 5
    assert first[0].url == f"{sim.web_url}/pages/postgresql-or-sqlite-for-a-small-team-1"
    assert first[0].title == "Postgresql or sqlite for a small team — an overview"
    assert "simulated page" in first[0].snippet


@pytest.mark.asyncio
async def test_a_search_result_can_be_fetched(tools):
    [result, *_] = await tools.search("rust or go")

    page = await tools.fetch(result.url)

    assert page.url == result.url
    assert page.title == result.title
    assert result.snippet in page.text
    assert "not for the reader" not in page.text


@pytest.mark.asyncio
async def test_a_simulated_redirect_chain_is_followed(tools, sim):
    page = await tools.fetch(f"{sim.web_url}/pages/hop-3")

    assert page.url == f"{sim.web_url}/pages/hop-0"


@pytest.mark.asyncio
async def test_a_fourth_simulated_redirect_is_refused(tools, sim):
    with pytest.raises(WebToolsError, match="redirects more than 3 times"):
        await tools.fetch(f"{sim.web_url}/pages/hop-4")


@pytest.mark.asyncio
async def test_the_huge_simulated_page_stops_at_the_cap(tools, sim):
    page = await tools.fetch(f"{sim.web_url}/pages/huge")

    assert page.truncated is True
    assert page.title == "Huge page"
    assert "only the first 2,000,000 bytes" in page.text


@pytest.mark.asyncio
async def test_without_allow_hosts_the_simulator_is_just_loopback(sim):
    async with SafeFetcher(limits=None) as fetcher:
        with pytest.raises(WebToolsError, match="Refused: "):
            await fetcher.fetch(f"{sim.web_url}/pages/hop-0")


@pytest.mark.asyncio
async def test_the_search_route_wants_json(sim):
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sim.web_url}/search", params={"q": "x"})

    assert response.status_code == 403
