"""WebTools: the web_search and web_fetch a run's seats call, with the panel's domain policy applied."""

from __future__ import annotations

from chat.webtools.fetcher import SafeFetcher
from chat.webtools.policy import DomainPolicy
from chat.webtools.search import MAX_RESULTS, SearchBackend
from chat.webtools.types import FetchedPage, SearchResult, WebToolsError

MAX_QUERY_LENGTH = 400
NOT_CONFIGURED = (
    "Web search is not configured on this server: set FUSIONROOM_SEARCH_BACKEND to searxng "
    "(with FUSIONROOM_SEARXNG_URL), brave (with FUSIONROOM_BRAVE_API_KEY) or tavily "
    "(with FUSIONROOM_TAVILY_API_KEY)."
)


class WebTools:
    """One run's web tools. Built by the caller from the server's long-lived search backend and
    fetcher and the run's merged DomainPolicy; holds nothing that needs closing."""

    def __init__(
        self,
        search: SearchBackend | None,
        fetcher: SafeFetcher,
        policy: DomainPolicy,
        *,
        result_limit: int = 8,
    ) -> None:
        self._search = search
        self._fetcher = fetcher
        self.policy = policy
        self.result_limit = result_limit

    @property
    def can_search(self) -> bool:
        return self._search is not None

    async def search(self, query: str) -> list[SearchResult]:
        """Up to `result_limit` results for `query`, excluded domains and duplicates left out.

        Raises WebToolsError when search is not configured, the query is empty or too long,
        or the backend fails.
        """
        if self._search is None:
            raise WebToolsError(NOT_CONFIGURED)
        query = " ".join(query.split())
        if not query:
            raise WebToolsError("The search query is empty.")
        if len(query) > MAX_QUERY_LENGTH:
            raise WebToolsError(
                f"The search query is too long ({len(query)} characters; at most {MAX_QUERY_LENGTH})."
            )
        # Ask for more than we keep: some results may be on excluded domains.
        found = await self._search.search(query, limit=min(self.result_limit * 2, MAX_RESULTS))
        kept: list[SearchResult] = []
        for result in found:
            if self.policy.excludes_result(result.url) or any(result.url == seen.url for seen in kept):
                continue
            kept.append(result)
        return kept[: self.result_limit]

    async def fetch(self, url: str) -> FetchedPage:
        """The readable text of `url`; every hop's domain checked against the blocked list.
        Raises WebToolsError saying why it was refused or failed."""
        return await self._fetcher.fetch(url, policy=self.policy)
