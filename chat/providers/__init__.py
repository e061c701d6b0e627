"""Talking to model APIs: the OpenAI-compatible streaming client, SSE parsing, the model catalog."""

from chat.providers.catalog import CatalogCache, fetch_catalog, parse_models
from chat.providers.client import (
    ModelRouter,
    OpenAICompatibleClient,
    close_http_client,
    complete_text,
    create_http_client,
    get_http_client,
    split_model_ref,
)
from chat.providers.errors import ProviderError
from chat.providers.protocol import ModelClient
from chat.providers.types import (
    ChatRequest,
    Endpoint,
    ModelInfo,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageReport,
)

__all__ = [
    "CatalogCache",
    "ChatRequest",
    "Endpoint",
    "ModelClient",
    "ModelInfo",
    "ModelRouter",
    "OpenAICompatibleClient",
    "ProviderError",
    "ReasoningDelta",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "Usage",
    "UsageReport",
    "close_http_client",
    "complete_text",
    "create_http_client",
    "fetch_catalog",
    "get_http_client",
    "parse_models",
    "split_model_ref",
]
