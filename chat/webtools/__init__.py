"""Web search and page fetching for panel seats: pure asyncio and httpx, no Django.

The contract the pipeline's tool loop uses::

    tools = WebTools(search=backend_or_none, fetcher=shared_safe_fetcher, policy=merged_policy)
    results = await tools.search("query")   # list[SearchResult]; raises WebToolsError
    page = await tools.fetch("https://...") # FetchedPage; raises WebToolsError
"""

from __future__ import annotations

from chat.webtools.fetcher import USER_AGENT, FetchLimits, SafeFetcher
from chat.webtools.openrouter import openrouter_web_plugin
from chat.webtools.policy import DomainPolicy
from chat.webtools.search import (
    BraveBackend,
    SearchBackend,
    SearxngBackend,
    TavilyBackend,
    backend_from_settings,
    check_search_settings,
)
from chat.webtools.tools import NOT_CONFIGURED, WebTools
from chat.webtools.types import FetchedPage, SearchResult, WebToolsError

__all__ = [
    "NOT_CONFIGURED",
    "USER_AGENT",
    "BraveBackend",
    "DomainPolicy",
    "FetchLimits",
    "FetchedPage",
    "SafeFetcher",
    "SearchBackend",
    "SearchResult",
    "SearxngBackend",
    "TavilyBackend",
    "WebTools",
    "WebToolsError",
    "backend_from_settings",
    "check_search_settings",
    "openrouter_web_plugin",
]
