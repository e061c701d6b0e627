"""Each search backend sends the request its service expects and reads its answer, through MockTransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio

from chat.webtools import (
    BraveBackend,
    SearchResult,
    SearxngBackend,
    TavilyBackend,
    WebToolsError,
    backend_from_settings,
)

Handler = Callable[[httpx.Request], httpx.Response]
KEY = "key-that-must-not-leak"


class Recorder:
    """A MockTransport handler that records requests and answers with a fixed response."""

    def __init__(self, response: httpx.Response | Exception) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


@pytest_asyncio.fixture
async def http() -> AsyncIterator[Callable[[Recorder], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(recorder: Recorder) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


SEARXNG_ANSWER = {
    "query": "sourdough winter",
    "number_of_results": 3,
    "results": [
        {
            "title": "Sourdough &amp; <b>winter</b>",
            "url": "https://bread.example/winter",
            "content": "Feed your starter <em>twice</em>\n a day.",
            "engine": "duckduckgo",
            "score": 1.5,
        },
        {"title": "No snippet", "url": "https://other.example/", "engine": "bing"},
        {"title": "Not the web", "url": "ftp://files.example/bread.txt", "content": "skipped"},
        {"title": "Third", "url": "http://third.example/", "content": "three"},
    ],
    "answers": [],
}


@pytest.mark.asyncio
async def test_searxng_asks_for_json_and_reads_results(http):
    recorder = Recorder(httpx.Response(200, json=SEARXNG_ANSWER))
    backend = SearxngBackend("http://searx.internal:8888/searx/", http(recorder))

    results = await backend.search("sourdough winter", limit=2)

    request = recorder.requests[0]
    assert request.method == "GET"
    assert str(request.url.copy_with(query=None)) == "http://searx.internal:8888/searx/search"
    assert dict(request.url.params) == {"q": "sourdough winter", "format": "json"}
    assert results == [
        SearchResult(
            title="Sourdough & winter",
            url="https://bread.example/winter",
            snippet="Feed your starter twice a day.",
        ),
        SearchResult(title="No snippet", url="https://other.example/", snippet=""),
    ]


@pytest.mark.asyncio
async def test_searxng_with_json_turned_off_says_how_to_turn_it_on(http):
    backend = SearxngBackend("http://searx.internal", http(Recorder(httpx.Response(403, text="Forbidden"))))

    with pytest.raises(WebToolsError, match=r"SearXNG refused the request \(HTTP 403\).*search\.formats"):
        await backend.search("anything", limit=5)


BRAVE_ANSWER = {
    "type": "search",
    "query": {"original": "rust or go"},
    "web": {
        "type": "search",
        "results": [
            {
                "title": "Rust vs Go in 2026",
                "url": "https://blog.example/rust-go",
                "description": "A <strong>long</strong> comparison of both.",
                "age": "2 days ago",
            },
            {"title": "Go <em>wins</em>", "url": "https://go.example/", "description": ""},
        ],
    },
}


@pytest.mark.asyncio
async def test_brave_sends_the_key_as_its_header_and_reads_web_results(http):
    recorder = Recorder(httpx.Response(200, json=BRAVE_ANSWER))
    backend = BraveBackend(KEY, http(recorder))

    results = await backend.search("rust or go", limit=5)

    request = recorder.requests[0]
    assert request.method == "GET"
    assert str(request.url.copy_with(query=None)) == "https://api.search.brave.com/res/v1/web/search"
    assert dict(request.url.params) == {"q": "rust or go", "count": "5"}
    assert request.headers["X-Subscription-Token"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert "authorization" not in request.headers
    assert results == [
        SearchResult(
            title="Rust vs Go in 2026",
            url="https://blog.example/rust-go",
            snippet="A long comparison of both.",
        ),
        SearchResult(title="Go wins", url="https://go.example/", snippet=""),
    ]


@pytest.mark.asyncio
async def test_brave_with_no_web_results_is_an_empty_list(http):
    backend = BraveBackend(KEY, http(Recorder(httpx.Response(200, json={"type": "search"}))))

    assert await backend.search("nothing at all", limit=5) == []


@pytest.mark.asyncio
async def test_brave_asks_for_at_most_twenty(http):
    recorder = Recorder(httpx.Response(200, json=BRAVE_ANSWER))

    await BraveBackend(KEY, http(recorder)).search("q", limit=50)

    assert recorder.requests[0].url.params["count"] == "20"


TAVILY_ANSWER = {
    "query": "fusion of llms",
    "answer": None,
    "results": [
        {
            "title": "LLM fusion",
            "url": "https://papers.example/fusion",
            "content": "Panels beat soloists.",
            "score": 0.9,
        }
    ],
    "response_time": 1.2,
}


@pytest.mark.asyncio
async def test_tavily_posts_the_query_with_a_bearer_key(http):
    recorder = Recorder(httpx.Response(200, json=TAVILY_ANSWER))
    backend = TavilyBackend(KEY, http(recorder))

    results = await backend.search("fusion of llms", limit=4)

    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.tavily.com/search"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "query": "fusion of llms",
        "max_results": 4,
        "search_depth": "basic",
    }
    assert results == [
        SearchResult(title="LLM fusion", url="https://papers.example/fusion", snippet="Panels beat soloists.")
    ]


BACKENDS: list[Callable[[httpx.AsyncClient], object]] = [
    lambda client: SearxngBackend("http://searx.internal", client),
    lambda client: BraveBackend(KEY, client),
    lambda client: TavilyBackend(KEY, client),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("make_backend", BACKENDS, ids=["searxng", "brave", "tavily"])
@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(401, json={"error": "bad key"}), r"refused the request \(HTTP 401\)"),
        (httpx.Response(429, text="slow down"), r"rate-limiting us \(HTTP 429\)"),
        (httpx.Response(500, text="oops"), r"answered HTTP 500"),
        (httpx.Response(200, text="<html>not json</html>"), "not search results"),
        (
            httpx.Response(200, json={"results": [{"title": "no url"}], "web": {"results": [{}]}}),
            "not search results",
        ),
        (httpx.Response(200, json=["a", "list"]), "not search results"),
        (httpx.ConnectError("connection refused"), r"could not reach .* \(ConnectError\)"),
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
    ],
)
async def test_backend_failures_are_readable_errors_without_the_key(make_backend, response, message, http):
    backend = make_backend(http(Recorder(response)))

    with pytest.raises(WebToolsError, match=message) as failed:
        await backend.search("anything", limit=5)  # type: ignore[attr-defined]

    assert failed.value.message.startswith("Search failed: ")
    assert KEY not in failed.value.message


@pytest.mark.asyncio
async def test_long_titles_and_snippets_are_cut(http):
    answer = {"results": [{"title": "t" * 1_000, "url": "https://x.example/", "content": "s " * 5_000}]}
    backend = SearxngBackend("http://searx.internal", http(Recorder(httpx.Response(200, json=answer))))

    [result] = await backend.search("q", limit=5)

    assert len(result.title) == 300
    assert len(result.snippet) == 1_000
    assert result.snippet.endswith("…")


@pytest.mark.asyncio
async def test_nothing_configured_means_no_backend(http):
    client = http(Recorder(httpx.Response(200)))

    assert backend_from_settings(None, None, None, client) is None
    assert backend_from_settings("", "", "", client) is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "base_url", "api_key", "expected"),
    [
        ("searxng", "http://searx.internal", None, SearxngBackend),
        ("brave", None, KEY, BraveBackend),
        ("tavily", None, KEY, TavilyBackend),
    ],
)
async def test_the_configured_backend_is_built(kind, base_url, api_key, expected, http):
    backend = backend_from_settings(kind, base_url, api_key, http(Recorder(httpx.Response(200))))

    assert isinstance(backend, expected)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "base_url", "api_key", "message"),
    [
        ("searxng", None, None, "needs FUSIONROOM_SEARXNG_URL"),
        ("brave", None, None, "needs FUSIONROOM_BRAVE_API_KEY"),
        ("tavily", "https://api.tavily.com", None, "needs FUSIONROOM_TAVILY_API_KEY"),
        ("google", None, KEY, "must be one of searxng, brave, tavily"),
    ],
)
async def test_an_incomplete_setting_names_what_is_missing(kind, base_url, api_key, message, http):
    with pytest.raises(ValueError, match=message):
        backend_from_settings(kind, base_url, api_key, http(Recorder(httpx.Response(200))))


@pytest.mark.asyncio
async def test_brave_can_be_pointed_at_another_url(http):
    recorder = Recorder(httpx.Response(200, json=BRAVE_ANSWER))
    backend = backend_from_settings("brave", "https://brave-proxy.internal/search", KEY, http(recorder))
    assert backend is not None

    await backend.search("q", limit=3)

    assert recorder.requests[0].url.host == "brave-proxy.internal"
