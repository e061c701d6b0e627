"""Routing a model reference, "endpoint::model", to the client of that endpoint."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

from chat.providers.client import close_stream, complete_text
from chat.providers.errors import ProviderError
from chat.providers.protocol import ModelClient
from chat.providers.types import ChatRequest, StreamEvent, Usage

MODEL_REF_SEPARATOR = "::"


def split_model_ref(ref: str) -> tuple[str | None, str]:
    """Split "endpoint::model" into its endpoint name and model id; (None, ref) when unqualified.

    An empty qualifier ("::model") also means the default endpoint. Only the first "::" splits,
    and single colons are left alone: OpenRouter ids such as "meta-llama/llama-3-8b:free" use them.
    """
    endpoint, separator, model = ref.partition(MODEL_REF_SEPARATOR)
    if not separator:
        return None, ref
    return endpoint or None, model


class ModelRouter:
    """A ModelClient that sends "endpoint::model" to that endpoint's client, unqualified ids to
    the default one, and strips the qualifier before the request leaves."""

    def __init__(self, clients: Mapping[str, ModelClient], default: str) -> None:
        if default not in clients:
            raise ValueError(f"The default endpoint {default!r} is not among {sorted(clients)}.")
        self._clients = dict(clients)
        self._default = default

    def route(self, ref: str) -> tuple[ModelClient, str]:
        """The client for a model reference and the model id to send it; ProviderError if none."""
        name, model = split_model_ref(ref)
        client = self._clients.get(name or self._default)
        if client is None:
            raise ProviderError(
                f"No endpoint named {name!r} is configured (model {ref!r}).", kind="not_found"
            )
        if not model:
            raise ProviderError(f"The model reference {ref!r} names no model.", kind="not_found")
        return client, model

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        client, model = self.route(request.model)
        events = client.stream(request.model_copy(update={"model": model}))
        try:
            async for event in events:
                yield event
        finally:
            # Closing this stream must close the routed one, and with it the HTTP response.
            await close_stream(events)

    async def complete(self, request: ChatRequest) -> tuple[str, Usage]:
        """The whole answer and its usage; see complete_text."""
        return await complete_text(self, request)
