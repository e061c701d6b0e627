"""The models an endpoint offers: fetched from GET /models, normalised, and cached for a while."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    OnErrorOmit,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from chat.providers.client import endpoint_headers, endpoint_url
from chat.providers.errors import ProviderError
from chat.providers.http_errors import read_error, transport_error
from chat.providers.limits import MAX_CATALOG_BYTES, MAX_ERROR_BODY_BYTES, read_at_most
from chat.providers.types import Endpoint, ModelInfo


def _none_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


# A field a catalog entry can do without: a bad value reads as "unknown" instead of losing the model.
type _Optional[T] = Annotated[T | None, WrapValidator(_none_if_invalid)]
# OpenRouter publishes dollars per token as strings; "-1" marks a price that varies (its auto router).
_Price = _Optional[Annotated[float, Field(ge=0, allow_inf_nan=False)]]


class _Wire(BaseModel):
    # Provider JSON is outside data: read the fields we use, ignore everything else.
    model_config = ConfigDict(extra="ignore")


class _Pricing(_Wire):
    prompt: _Price = None
    completion: _Price = None


class _TopProvider(_Wire):
    context_length: _Optional[Annotated[int, Field(gt=0)]] = None


class _Entry(_Wire):
    id: Annotated[str, Field(min_length=1)]
    name: _Optional[str] = None
    context_length: _Optional[Annotated[int, Field(gt=0)]] = None
    top_provider: _Optional[_TopProvider] = None
    pricing: _Optional[_Pricing] = None
    supported_parameters: list[OnErrorOmit[str]] = Field(default_factory=list)


class _Catalog(_Wire):
    # A junk entry is dropped on its own; the rest of the catalog still loads.
    data: list[OnErrorOmit[_Entry]]


def parse_models(endpoint_name: str, payload: object) -> list[ModelInfo]:
    """Normalise a GET /models answer, OpenRouter's rich shape or the plain OpenAI one.

    Entries that are not models (no id, not an object) are skipped, and so are repeats of an
    id already seen. Raises ProviderError when the payload as a whole is not a model list.
    """
    try:
        catalog = _Catalog.model_validate(payload)
    except ValidationError as exc:
        raise ProviderError(f"The model list of {endpoint_name} is not in a shape FusionRoom reads.") from exc
    models: dict[str, ModelInfo] = {}
    for entry in catalog.data:
        if entry.id not in models:
            models[entry.id] = _model_info(endpoint_name, entry)
    return list(models.values())


def _model_info(endpoint_name: str, entry: _Entry) -> ModelInfo:
    pricing = entry.pricing or _Pricing()
    context_length = entry.context_length
    if context_length is None and entry.top_provider is not None:
        context_length = entry.top_provider.context_length
    parameters = set(entry.supported_parameters)
    return ModelInfo(
        id=entry.id,
        name=entry.name or entry.id,
        endpoint=endpoint_name,
        context_length=context_length,
        prompt_price=pricing.prompt,
        completion_price=pricing.completion,
        supports_tools="tools" in parameters,
        # `structured_outputs` is OpenRouter's flag for JSON-schema output; `response_format`
        # alone may mean only loose JSON mode, which is not enough for the judge's schema.
        supports_structured_output="structured_outputs" in parameters,
    )


async def fetch_catalog(
    endpoint: Endpoint,
    http: httpx.AsyncClient,
    *,
    max_bytes: int = MAX_CATALOG_BYTES,
    max_error_body_bytes: int = MAX_ERROR_BODY_BYTES,
) -> list[ModelInfo]:
    """GET {base_url}/models and normalise it; raises ProviderError when that fails.

    At most `max_bytes` of the list are read: a longer one is refused whole (a cut JSON list
    reads as nothing), with a message that says so.
    """
    try:
        async with http.stream(
            "GET", endpoint_url(endpoint, "models"), headers=endpoint_headers(endpoint)
        ) as response:
            if not response.is_success:
                raise await read_error(response, endpoint=endpoint, max_body_bytes=max_error_body_bytes)
            declared = response.headers.get("Content-Length", "")
            body, too_large = b"", declared.isdigit() and int(declared) > max_bytes
            if not too_large:
                body, too_large = await read_at_most(response, max_bytes)
    except (httpx.RequestError, httpx.InvalidURL) as exc:
        raise transport_error(exc, endpoint=endpoint, responding=False) from exc
    if too_large:
        raise ProviderError(
            f"The model list of {endpoint.name} is larger than {max_bytes // 1024:,} KiB, "
            "more than FusionRoom reads.",
            kind="too_large",
        )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ProviderError(f"The model list of {endpoint.name} is not JSON.") from exc
    return parse_models(endpoint.name, payload)


class CatalogCache:
    """Each endpoint's catalog, kept in memory for `ttl_seconds` after it was fetched; a list
    over `max_bytes` is refused (see fetch_catalog).

    `clock` returns seconds on a monotonic scale; tests pass a fake one. Two callers that find
    the same entry stale both fetch it, which is harmless and keeps this free of locks (which
    would bind it to one event loop).
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = MAX_CATALOG_BYTES,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._max_bytes = max_bytes
        self._entries: dict[tuple[str, str, int | None, str], tuple[float, list[ModelInfo]]] = {}

    @staticmethod
    def _key(endpoint: Endpoint) -> tuple[str, str, int | None, str]:
        # Two users may each name their own endpoint "ollama" at one URL, or use a server
        # endpoint with keys of their own (which may see other models): the owner and a digest
        # of the key keep every catalog to the callers that fetched it. A digest, so the cache
        # holds no second copy of a key.
        key_digest = hashlib.sha256(endpoint.api_key.encode()).hexdigest() if endpoint.api_key else ""
        return (endpoint.name, endpoint.base_url, endpoint.owner_id, key_digest)

    def cached(self, endpoint: Endpoint) -> list[ModelInfo] | None:
        """The endpoint's catalog if it was fetched less than ttl_seconds ago, else None."""
        entry = self._entries.get(self._key(endpoint))
        if entry is None:
            return None
        fetched_at, models = entry
        return list(models) if self._clock() - fetched_at < self._ttl else None

    async def get(self, endpoint: Endpoint, http: httpx.AsyncClient) -> list[ModelInfo]:
        """The endpoint's catalog, fetched only when the cached one is missing or stale."""
        models = self.cached(endpoint)
        if models is None:
            models = await self.refresh(endpoint, http)
        return models

    async def refresh(self, endpoint: Endpoint, http: httpx.AsyncClient) -> list[ModelInfo]:
        """Fetch the endpoint's catalog now and cache it; on ProviderError the cache is left as it was."""
        models = await fetch_catalog(endpoint, http, max_bytes=self._max_bytes)
        self._entries[self._key(endpoint)] = (self._clock(), models)
        return models

    def forget(self, endpoint: Endpoint) -> None:
        self._entries.pop(self._key(endpoint), None)
