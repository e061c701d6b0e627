"""Server-sent events as OpenAI's clients read them: `data:` lines of JSON, comments, [DONE]."""

from __future__ import annotations

import json
import time
from typing import Any

DONE = b"data: [DONE]\n\n"


def data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def comment(text: str) -> bytes:
    """A comment line: it keeps the connection alive and every SDK ignores it."""
    return b": " + " ".join(text.split()).encode() + b"\n\n"


def chunk(
    completion_id: str,
    model: str,
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One chat.completion.chunk; without a delta its `choices` is empty (usage, fusion events)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        **extra,
    }


def completion(
    completion_id: str, model: str, message: dict[str, Any], *, finish_reason: str, **extra: Any
) -> dict[str, Any]:
    """A whole chat.completion, for a request that did not stream."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        **extra,
    }


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
