"""The models a user can pick: every endpoint's catalog, merged, qualified, filtered, priced."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings

from chat.endpoints import guard
from chat.providers.catalog import CatalogCache
from chat.providers.errors import ProviderError
from chat.providers.types import Endpoint, ModelInfo

# Prices and capabilities change rarely; one fetch serves every page and run for a while.
catalog_cache = CatalogCache(ttl_seconds=300, max_bytes=settings.FUSIONROOM_MAX_CATALOG_BYTES)

# What "a typical answer" costs, for estimates: a short question, answers of a page or so.
TYPICAL_PROMPT_TOKENS = 400
TYPICAL_ANSWER_TOKENS = 900
TYPICAL_ANALYSIS_TOKENS = 1200
TYPICAL_FUSED_TOKENS = 1000


def model_ref(endpoint: Endpoint, model_id: str, default: str) -> str:
    """How a panel names a model: bare on the default endpoint, "endpoint::id" elsewhere."""
    return model_id if endpoint.name == default else f"{endpoint.name}::{model_id}"


@dataclass(frozen=True)
class CatalogEntry:
    ref: str
    info: ModelInfo

    @property
    def prompt_per_million(self) -> float | None:
        return None if self.info.prompt_price is None else self.info.prompt_price * 1_000_000

    @property
    def completion_per_million(self) -> float | None:
        return None if self.info.completion_price is None else self.info.completion_price * 1_000_000


SortKey = Literal["name", "price"]


@dataclass
class Catalog:
    entries: list[CatalogEntry]
    # Endpoints whose catalog could not be read, with the reason: shown as down, the rest works.
    down: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_ref = {entry.ref: entry for entry in self.entries}

    def get(self, ref: str) -> CatalogEntry | None:
        return self._by_ref.get(ref)

    def __contains__(self, ref: object) -> bool:
        return ref in self._by_ref

    def infos(self) -> dict[str, ModelInfo]:
        """Model info by ref, as the pipeline wants it for prices and capabilities."""
        return {entry.ref: entry.info for entry in self.entries}

    def providers(self) -> list[str]:
        return sorted({entry.info.provider for entry in self.entries})

    def search(
        self,
        query: str = "",
        *,
        provider: str = "",
        max_price: float | None = None,
        tools_only: bool = False,
        sort: SortKey = "name",
    ) -> list[CatalogEntry]:
        """Entries matching every filter; `max_price` is dollars per million output tokens."""
        words = query.lower().split()
        found = [
            entry
            for entry in self.entries
            if all(word in f"{entry.ref} {entry.info.name}".lower() for word in words)
            and (not provider or entry.info.provider == provider)
            and (not tools_only or entry.info.supports_tools)
            and (
                max_price is None
                or (entry.completion_per_million is not None and entry.completion_per_million <= max_price)
            )
        ]
        if sort == "price":
            # Unknown prices last: nobody sorting by price wants a surprise first.
            return sorted(
                found, key=lambda e: (e.completion_per_million is None, e.completion_per_million or 0)
            )
        return sorted(found, key=lambda e: e.info.name.lower())


async def load_catalog(endpoints: list[Endpoint], *, refresh: bool = False) -> Catalog:
    """Every endpoint's models, fetched concurrently; the first endpoint is the default."""
    if not endpoints:
        return Catalog([])
    default = endpoints[0].name
    fetch = catalog_cache.refresh if refresh else catalog_cache.get
    # A user's endpoint the rules refuse is not fetched (nothing connects): it is shown as down.
    refused = {endpoint.name: guard.endpoint_problem(endpoint) for endpoint in endpoints}
    results = await asyncio.gather(
        *(
            _refused(endpoint.name, problem)
            if (problem := refused[endpoint.name]) is not None
            else fetch(endpoint, guard.http_client_for(endpoint))
            for endpoint in endpoints
        ),
        return_exceptions=True,
    )
    entries: list[CatalogEntry] = []
    down: dict[str, str] = {}
    for endpoint, result in zip(endpoints, results, strict=True):
        if isinstance(result, ProviderError):
            down[endpoint.name] = result.message
        elif isinstance(result, BaseException):
            raise result
        else:
            entries += [CatalogEntry(model_ref(endpoint, info.id, default), info) for info in result]
    return Catalog(entries, down)


async def _refused(name: str, problem: str) -> list[ModelInfo]:
    raise ProviderError(f"{name} is not called: {problem}", kind="config")


@dataclass(frozen=True)
class Estimate:
    """A run's cost for a typical answer; None when a model's price is unknown."""

    cost: float | None
    unpriced: list[str]


def estimate_run(
    seats: list[str],
    judge: str,
    writer: str,
    catalog: Catalog,
    *,
    prompt_tokens: int = TYPICAL_PROMPT_TOKENS,
    auto_fuse: bool = False,
    compare_only: bool = False,
) -> Estimate:
    """The cost of asking `prompt_tokens` (the thread and the question) of every seat, then
    the judge and the writer (none for a compare-only panel), with answers of a typical length.

    An Auto-fuse run is estimated at its dearest: its writer consults the panel, so it makes two
    calls (the one that asks, the one that answers from the result) around the seats and the judge.
    """
    answers = TYPICAL_ANSWER_TOKENS * len(seats)
    calls = [(seat, prompt_tokens, TYPICAL_ANSWER_TOKENS) for seat in seats]
    if compare_only:
        return _priced(calls, catalog)
    calls.append((judge, prompt_tokens + answers, TYPICAL_ANALYSIS_TOKENS))
    writing = (writer, prompt_tokens + answers + TYPICAL_ANALYSIS_TOKENS, TYPICAL_FUSED_TOKENS)
    calls += [writing, writing] if auto_fuse else [writing]
    return _priced(calls, catalog)


def _priced(calls: list[tuple[str, int, int]], catalog: Catalog) -> Estimate:
    total = 0.0
    unpriced: list[str] = []
    for ref, prompt_tokens, completion_tokens in calls:
        entry = catalog.get(ref)
        if entry is None or entry.info.prompt_price is None or entry.info.completion_price is None:
            unpriced.append(ref)
            continue
        total += prompt_tokens * entry.info.prompt_price + completion_tokens * entry.info.completion_price
    unique = sorted(set(unpriced))
    return Estimate(cost=None if unique else total, unpriced=unique)
