"""Talking to model APIs: the per-loop HTTP client, routing, the streaming client, SSE, catalog, errors."""

from chat.providers.catalog import CatalogCache, fetch_catalog, parse_models
from chat.providers.client import FUSION_DEPTH_HEADER, OpenAICompatibleClient, complete_text
from chat.providers.errors import ErrorKind, ProviderError
from chat.providers.http_client import close_http_client, create_http_client, get_http_client
from chat.providers.policy import RetryPolicy, Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.resilience import ResilientClient
from chat.providers.routing import ModelRouter, split_model_ref
from chat.providers.text import safe_text
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
    "FUSION_DEPTH_HEADER",
    "CatalogCache",
    "ChatRequest",
    "Endpoint",
    "ErrorKind",
    "ModelClient",
    "ModelInfo",
    "ModelRouter",
    "OpenAICompatibleClient",
    "ProviderError",
    "ReasoningDelta",
    "ResilientClient",
    "RetryPolicy",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "Timeouts",
    "ToolCallDelta",
    "Usage",
    "UsageReport",
    "close_http_client",
    "complete_text",
    "create_http_client",
    "fetch_catalog",
    "get_http_client",
    "parse_models",
    "safe_text",
    "split_model_ref",
]
