"""Reading model catalogs in OpenRouter's and the plain OpenAI shape, and caching them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chat.providers.catalog import CatalogCache, fetch_catalog, parse_models
from chat.providers.errors import ProviderError
from chat.providers.types import Endpoint, ModelInfo, Usage
from tests.providers.conftest import Provider

CLAUDE = {
    "id": "anthropic/claude-sonnet-4",
    "name": "Anthropic: Claude Sonnet 4",
    "context_length": 200000,
    "pricing": {"prompt": "0.000003", "completion": "0.000015", "request": "0", "image": "0.0048"},
    "supported_parameters": ["tools", "tool_choice", "response_format", "structured_outputs", "max_tokens"],
    "architecture": {"modality": "text+image->text"},
    "top_provider": {"context_length": 200000, "max_completion_tokens": 64000},
}
LLAMA = {"id": "llama3.2", "object": "model", "created": 1731000000, "owned_by": "library"}
USAGE = Usage(prompt_tokens=1000, completion_tokens=100)


def openrouter_catalog(*entries: object) -> dict[str, Any]:
    return {"data": list(entries)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- parse_models --------------------------------------------------------------------------------


def test_it_reads_an_openrouter_entry() -> None:
    [model] = parse_models("openrouter", openrouter_catalog(CLAUDE))

    assert model == ModelInfo(
        id="anthropic/claude-sonnet-4",
        name="Anthropic: Claude Sonnet 4",
        endpoint="openrouter",
        context_length=200000,
        prompt_price=0.000003,
        completion_price=0.000015,
        supports_tools=True,
        supports_structured_output=True,
    )


def test_it_reads_a_plain_openai_entry() -> None:
    [model] = parse_models("ollama", openrouter_catalog(LLAMA))

    assert model == ModelInfo(id="llama3.2", name="llama3.2", endpoint="ollama")
    assert model.provider == "ollama"


def test_it_reads_a_price_of_minus_one_as_unknown() -> None:
    auto = {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}}

    [model] = parse_models("openrouter", openrouter_catalog(auto))

    assert (model.prompt_price, model.completion_price) == (None, None)


def test_it_reads_a_missing_price_as_unknown() -> None:
    half_priced = {"id": "x/y", "pricing": {"prompt": "0.000001"}}

    [model] = parse_models("openrouter", openrouter_catalog(half_priced))

    assert (model.prompt_price, model.completion_price) == (0.000001, None)
    assert model.cost_of(USAGE) is None


def test_it_reads_a_free_model_as_costing_nothing() -> None:
    free = {"id": "x/y:free", "pricing": {"prompt": "0", "completion": "0"}}

    [model] = parse_models("openrouter", openrouter_catalog(free))

    assert model.cost_of(USAGE) == 0.0


def test_it_does_not_take_json_mode_alone_for_structured_output() -> None:
    json_mode_only = {"id": "x/y", "supported_parameters": ["response_format"]}

    [model] = parse_models("openrouter", openrouter_catalog(json_mode_only))

    assert not model.supports_structured_output


def test_it_falls_back_to_the_top_providers_context_length() -> None:
    entry = {"id": "x/y", "top_provider": {"context_length": 32768}}

    [model] = parse_models("openrouter", openrouter_catalog(entry))

    assert model.context_length == 32768


@pytest.mark.parametrize(
    "junk",
    [None, 42, "anthropic/claude", [], {}, {"name": "no id"}, {"id": ""}, {"id": 7}, {"id": ["a"]}],
)
def test_it_skips_a_junk_entry_and_keeps_the_rest(junk: object) -> None:
    models = parse_models("openrouter", openrouter_catalog(CLAUDE, junk, LLAMA))

    assert [m.id for m in models] == ["anthropic/claude-sonnet-4", "llama3.2"]


def test_it_keeps_a_model_whose_details_are_junk() -> None:
    entry = {
        "id": "x/y",
        "name": 12,
        "context_length": "lots",
        "pricing": {"prompt": "free?", "completion": None},
        "supported_parameters": ["tools", 3, None],
        "top_provider": "?",
    }

    [model] = parse_models("openrouter", openrouter_catalog(entry))

    assert model == ModelInfo(id="x/y", name="x/y", endpoint="openrouter", supports_tools=True)


def test_it_reads_a_negative_context_length_as_unknown() -> None:
    [model] = parse_models("openrouter", openrouter_catalog({"id": "x/y", "context_length": -1}))

    assert model.context_length is None


def test_it_keeps_the_first_of_repeated_ids() -> None:
    models = parse_models(
        "vllm", openrouter_catalog({"id": "m", "name": "First"}, {"id": "m", "name": "Second"})
    )

    assert [m.name for m in models] == ["First"]


def test_it_reads_an_empty_catalog() -> None:
    assert parse_models("ollama", {"object": "list", "data": []}) == []


@pytest.mark.parametrize(
    "payload",
    [None, [], "models", {"models": []}, {"data": "none"}, {"error": {"message": "Unauthorized"}}],
)
def test_it_raises_for_a_payload_that_is_not_a_model_list(payload: object) -> None:
    with pytest.raises(ProviderError, match="model list of openrouter"):
        parse_models("openrouter", payload)


# --- fetch_catalog -------------------------------------------------------------------------------


def http_for(provider: Provider) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(provider))


@pytest.mark.asyncio
async def test_fetch_gets_the_models_url_with_the_key(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, json=openrouter_catalog(CLAUDE)))

    await fetch_catalog(endpoint, http_for(provider))

    assert str(provider.requests[0].url) == "https://openrouter.test/api/v1/models"
    assert provider.requests[0].headers["Authorization"] == "Bearer sk-or-v1-secret"


@pytest.mark.asyncio
async def test_fetch_returns_the_parsed_models(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, json=openrouter_catalog(CLAUDE, LLAMA)))

    models = await fetch_catalog(endpoint, http_for(provider))

    assert [m.id for m in models] == ["anthropic/claude-sonnet-4", "llama3.2"]


@pytest.mark.asyncio
async def test_fetch_raises_a_readable_error_for_an_error_status(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(401, json={"error": {"message": "No auth credentials found"}}))

    with pytest.raises(ProviderError, match="rejected the API key") as raised:
        await fetch_catalog(endpoint, http_for(provider))

    assert not raised.value.retryable


@pytest.mark.asyncio
async def test_fetch_raises_for_a_body_that_is_not_json(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, text="<html>Maintenance</html>"))

    with pytest.raises(ProviderError, match="not JSON"):
        await fetch_catalog(endpoint, http_for(provider))


@pytest.mark.asyncio
async def test_fetch_raises_a_retryable_error_when_it_cannot_connect(endpoint: Endpoint) -> None:
    provider = Provider(httpx.ConnectError("Connection refused"))

    with pytest.raises(ProviderError) as raised:
        await fetch_catalog(endpoint, http_for(provider))

    assert raised.value.retryable


# --- CatalogCache --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_cache_fetches_once_within_the_ttl(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, json=openrouter_catalog(CLAUDE)))
    clock = FakeClock()
    cache = CatalogCache(ttl_seconds=300, clock=clock)

    await cache.get(endpoint, http_for(provider))
    clock.advance(299)
    models = await cache.get(endpoint, http_for(provider))

    assert len(provider.requests) == 1
    assert [m.id for m in models] == ["anthropic/claude-sonnet-4"]


@pytest.mark.asyncio
async def test_the_cache_fetches_again_once_the_ttl_has_passed(endpoint: Endpoint) -> None:
    provider = Provider(
        httpx.Response(200, json=openrouter_catalog(CLAUDE)),
        httpx.Response(200, json=openrouter_catalog(CLAUDE, LLAMA)),
    )
    clock = FakeClock()
    cache = CatalogCache(ttl_seconds=300, clock=clock)

    await cache.get(endpoint, http_for(provider))
    clock.advance(300)
    models = await cache.get(endpoint, http_for(provider))

    assert len(provider.requests) == 2
    assert [m.id for m in models] == ["anthropic/claude-sonnet-4", "llama3.2"]


@pytest.mark.asyncio
async def test_refresh_fetches_even_when_the_entry_is_fresh(endpoint: Endpoint) -> None:
    provider = Provider(
        httpx.Response(200, json=openrouter_catalog(CLAUDE)),
        httpx.Response(200, json=openrouter_catalog(LLAMA)),
    )
    cache = CatalogCache(ttl_seconds=300, clock=FakeClock())

    await cache.get(endpoint, http_for(provider))
    await cache.refresh(endpoint, http_for(provider))

    assert [m.id for m in cache.cached(endpoint) or []] == ["llama3.2"]


@pytest.mark.asyncio
async def test_a_failed_refresh_leaves_the_cached_catalog(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, json=openrouter_catalog(CLAUDE)), httpx.Response(503, json={}))
    cache = CatalogCache(ttl_seconds=300, clock=FakeClock())
    await cache.get(endpoint, http_for(provider))

    with pytest.raises(ProviderError):
        await cache.refresh(endpoint, http_for(provider))

    assert [m.id for m in cache.cached(endpoint) or []] == ["anthropic/claude-sonnet-4"]


@pytest.mark.asyncio
async def test_the_cache_keeps_endpoints_apart(endpoint: Endpoint) -> None:
    ollama = Endpoint(name="ollama", base_url="http://127.0.0.1:11434/v1")
    provider = Provider(
        httpx.Response(200, json=openrouter_catalog(CLAUDE)),
        httpx.Response(200, json=openrouter_catalog(LLAMA)),
    )
    cache = CatalogCache(ttl_seconds=300, clock=FakeClock())

    await cache.get(endpoint, http_for(provider))
    await cache.get(ollama, http_for(provider))

    assert [m.endpoint for m in cache.cached(ollama) or []] == ["ollama"]
    assert [m.endpoint for m in cache.cached(endpoint) or []] == ["openrouter"]


def test_the_cache_has_nothing_for_an_endpoint_never_fetched(endpoint: Endpoint) -> None:
    assert CatalogCache(ttl_seconds=300, clock=FakeClock()).cached(endpoint) is None


@pytest.mark.asyncio
async def test_two_endpoints_with_one_name_but_different_urls_are_cached_apart(endpoint: Endpoint) -> None:
    alices = Endpoint(name="ollama", base_url="http://127.0.0.1:11434/v1")
    bobs = Endpoint(name="ollama", base_url="http://127.0.0.1:11435/v1")
    provider = Provider(
        httpx.Response(200, json=openrouter_catalog(CLAUDE)),
        httpx.Response(200, json=openrouter_catalog(LLAMA)),
    )
    cache = CatalogCache(ttl_seconds=300, clock=FakeClock())

    await cache.get(alices, http_for(provider))
    await cache.get(bobs, http_for(provider))

    assert [m.id for m in cache.cached(alices) or []] == ["anthropic/claude-sonnet-4"]
    assert [m.id for m in cache.cached(bobs) or []] == ["llama3.2"]


@pytest.mark.asyncio
async def test_forget_drops_an_endpoints_catalog(endpoint: Endpoint) -> None:
    provider = Provider(httpx.Response(200, json=openrouter_catalog(CLAUDE)))
    cache = CatalogCache(ttl_seconds=300, clock=FakeClock())
    await cache.get(endpoint, http_for(provider))

    cache.forget(endpoint)

    assert cache.cached(endpoint) is None
