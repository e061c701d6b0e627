"""Web search backends behind one small contract: SearXNG, Brave Search and Tavily."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from chat.webtools.text import one_line, strip_tags
from chat.webtools.types import SearchResult, WebToolsError

BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
TAVILY_URL = "https://api.tavily.com/search"
MAX_RESULTS = 20
_TITLE_LIMIT = 300
_SNIPPET_LIMIT = 1_000

SearchKind = Literal["searxng", "brave", "tavily"]
SEARCH_KINDS: tuple[SearchKind, ...] = ("searxng", "brave", "tavily")


class SearchBackend(Protocol):
    """A web search service.

    `search` returns at most `limit` results (fewer when the service has fewer), snippets as
    plain text, and raises WebToolsError with a readable reason — never an API key — when the
    service cannot be reached, refuses the key, rate-limits or answers something unexpected.
    """

    name: str

    async def search(self, query: str, *, limit: int) -> list[SearchResult]: ...


class _Hit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = ""
    url: str
    content: str = ""
    description: str = ""


class _Hits(BaseModel):
    model_config = ConfigDict(extra="ignore")

    results: list[_Hit] = []


class _BraveWeb(BaseModel):
    model_config = ConfigDict(extra="ignore")

    web: _Hits = _Hits()


class SearxngBackend:
    """A SearXNG instance's JSON API (`json` must be in its settings' search.formats)."""

    name = "SearXNG"

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/") + "/search"
        self._http = http

    async def search(self, query: str, *, limit: int) -> list[SearchResult]:
        request = self._http.build_request(
            "GET", self._url, params={"q": query, "format": "json"}, headers={"Accept": "application/json"}
        )
        hits = _parse(self.name, await _send(self.name, self._http, request), _Hits)
        return _results(hits.results, limit, snippet=lambda hit: hit.content)


class BraveBackend:
    """Brave Search's web search API."""

    name = "Brave Search"

    def __init__(self, api_key: str, http: httpx.AsyncClient, *, url: str = BRAVE_URL) -> None:
        self._api_key = api_key
        self._url = url
        self._http = http

    async def search(self, query: str, *, limit: int) -> list[SearchResult]:
        request = self._http.build_request(
            "GET",
            self._url,
            params={"q": query, "count": min(limit, MAX_RESULTS)},
            headers={"Accept": "application/json", "X-Subscription-Token": self._api_key},
        )
        answer = _parse(self.name, await _send(self.name, self._http, request), _BraveWeb)
        return _results(answer.web.results, limit, snippet=lambda hit: hit.description)


class TavilyBackend:
    """Tavily's search API."""

    name = "Tavily"

    def __init__(self, api_key: str, http: httpx.AsyncClient, *, url: str = TAVILY_URL) -> None:
        self._api_key = api_key
        self._url = url
        self._http = http

    async def search(self, query: str, *, limit: int) -> list[SearchResult]:
        request = self._http.build_request(
            "POST",
            self._url,
            json={"query": query, "max_results": min(limit, MAX_RESULTS), "search_depth": "basic"},
            headers={"Accept": "application/json", "Authorization": f"Bearer {self._api_key}"},
        )
        hits = _parse(self.name, await _send(self.name, self._http, request), _Hits)
        return _results(hits.results, limit, snippet=lambda hit: hit.content)


def check_search_settings(kind: str | None, base_url: str | None, api_key: str | None) -> None:
    """Raise ValueError naming the missing or wrong setting; nothing configured is fine."""
    if not kind:
        return
    if kind not in SEARCH_KINDS:
        raise ValueError(f"FUSIONROOM_SEARCH_BACKEND must be one of {', '.join(SEARCH_KINDS)}, not {kind!r}")
    if kind == "searxng" and not base_url:
        raise ValueError("FUSIONROOM_SEARCH_BACKEND=searxng needs FUSIONROOM_SEARXNG_URL")
    if kind in ("brave", "tavily") and not api_key:
        raise ValueError(f"FUSIONROOM_SEARCH_BACKEND={kind} needs FUSIONROOM_{kind.upper()}_API_KEY")


def backend_from_settings(
    kind: str | None, base_url: str | None, api_key: str | None, http: httpx.AsyncClient
) -> SearchBackend | None:
    """The configured backend, or None when no search backend is configured.

    `base_url` is the SearXNG instance (for Brave and Tavily it overrides their API URL);
    `http` is the caller's long-lived client. Raises ValueError for an incomplete setting.
    """
    check_search_settings(kind, base_url, api_key)
    if kind == "searxng" and base_url:
        return SearxngBackend(base_url, http)
    if kind == "brave" and api_key:
        return BraveBackend(api_key, http, url=base_url or BRAVE_URL)
    if kind == "tavily" and api_key:
        return TavilyBackend(api_key, http, url=base_url or TAVILY_URL)
    return None


async def _send(name: str, http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    try:
        response = await http.send(request)
    except httpx.TimeoutException:
        raise WebToolsError(f"Search failed: {name} did not answer in time.") from None
    except httpx.HTTPError as error:
        raise WebToolsError(f"Search failed: could not reach {name} ({type(error).__name__}).") from None
    status = response.status_code
    if status in (401, 403):
        hint = (
            " — is `json` enabled in search.formats of its settings.yml?"
            if name == SearxngBackend.name
            else " — check its API key"
        )
        raise WebToolsError(f"Search failed: {name} refused the request (HTTP {status}){hint}.")
    if status == 429:
        raise WebToolsError(f"Search failed: {name} is rate-limiting us (HTTP 429); try again later.")
    if not response.is_success:
        raise WebToolsError(f"Search failed: {name} answered HTTP {status}.")
    return response


def _parse[M: BaseModel](name: str, response: httpx.Response, model: type[M]) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        raise WebToolsError(f"Search failed: {name} sent an answer that is not search results.") from None


def _results(hits: list[_Hit], limit: int, *, snippet: Callable[[_Hit], str]) -> list[SearchResult]:
    results: list[SearchResult] = []
    for hit in hits:
        if not hit.url.lower().startswith(("http://", "https://")):
            continue
        results.append(
            SearchResult(
                title=one_line(strip_tags(hit.title)[1], _TITLE_LIMIT) or hit.url,
                url=hit.url,
                snippet=one_line(strip_tags(snippet(hit))[1], _SNIPPET_LIMIT),
            )
        )
        if len(results) >= limit:
            break
    return results
