"""Web search and fetch for a run, from the settings: the Django side of chat.webtools."""

from __future__ import annotations

import asyncio
import weakref
from urllib.parse import urlsplit

from django.conf import settings

from chat.endpoints.resolve import demo_simulator_url
from chat.providers.http_client import get_http_client
from chat.webtools import DomainPolicy, SafeFetcher, SearchBackend, WebTools, backend_from_settings
from chat.webtools.options import WebToolOptions

# One fetcher per event loop, like the shared HTTP client: its connections belong to a loop.
_fetchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SafeFetcher] = weakref.WeakKeyDictionary()


def _demo_web() -> tuple[str, str] | None:
    """The simulator's pocket web in demo mode: its SearXNG-style URL and its host:port."""
    if not settings.FUSIONROOM_DEMO or settings.FUSIONROOM_SEARCH_BACKEND:
        return None
    root = demo_simulator_url().removesuffix("/").removesuffix("/v1")
    return root, urlsplit(root).netloc


def search_configured() -> bool:
    return bool(settings.FUSIONROOM_SEARCH_BACKEND) or _demo_web() is not None


def _backend() -> SearchBackend | None:
    http = get_http_client()
    if (demo := _demo_web()) is not None:
        return backend_from_settings("searxng", demo[0], None, http)
    kind = settings.FUSIONROOM_SEARCH_BACKEND or None
    keys = {"brave": settings.FUSIONROOM_BRAVE_API_KEY, "tavily": settings.FUSIONROOM_TAVILY_API_KEY}
    key = keys.get(kind or "")
    return backend_from_settings(kind, settings.FUSIONROOM_SEARXNG_URL or None, key or None, http)


def _fetcher() -> SafeFetcher:
    loop = asyncio.get_running_loop()
    fetcher = _fetchers.get(loop)
    if fetcher is None:
        # Only the built-in simulator may be fetched from loopback, and only in demo mode.
        demo = _demo_web()
        fetcher = SafeFetcher(allow_hosts=frozenset({demo[1]}) if demo else frozenset())
        _fetchers[loop] = fetcher
    return fetcher


def toolbox_for(options: WebToolOptions) -> WebTools:
    """A run's web tools: the configured search backend, the shared safe fetcher, and the
    server's domain lists plus the run's panel's."""
    server = DomainPolicy(
        excluded_search_domains=settings.FUSIONROOM_EXCLUDED_DOMAINS,
        blocked_fetch_domains=settings.FUSIONROOM_BLOCKED_DOMAINS,
    )
    panel = DomainPolicy(
        excluded_search_domains=list(options.excluded_domains),
        blocked_fetch_domains=list(options.blocked_domains),
    )
    return WebTools(search=_backend(), fetcher=_fetcher(), policy=DomainPolicy.merge(server, panel))
