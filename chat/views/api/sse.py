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
    created: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One chat.completion.chunk; without a delta its `choices` is empty (usage, fusion events)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": choices,
        **extra,
    }


class Chunks:
    """The encoded chunks of one streamed completion, all with the same id, model and `created`
    (as OpenAI's are). A text delta, most of a stream, is made without building and encoding the
    whole chunk again: its text's JSON goes between the bytes every such chunk has around it."""

    def __init__(self, completion_id: str, model: str) -> None:
        self.completion_id = completion_id
        self.model = model
        self.created = int(time.time())
        self._around = {key: self._split(key) for key in ("content", "reasoning")}

    def _split(self, key: str) -> tuple[bytes, bytes]:
        # The general form with a stand-in text, cut around it: the same bytes by construction.
        whole = self.encode({key: _STAND_IN})
        before, found, after = whole.rpartition(json.dumps(_STAND_IN).encode())
        assert found, "the stand-in text is in its chunk"
        return before, after

    def text(self, key: str, text: str) -> bytes:
        """`data({"delta": {key: text}, ...})` for key "content" or "reasoning"."""
        before, after = self._around[key]
        return before + json.dumps(text).encode() + after

    def encode(self, delta: dict[str, Any] | None, **extra: Any) -> bytes:
        """Any chunk of the completion, encoded (see `chunk`)."""
        return data(chunk(self.completion_id, self.model, delta, created=self.created, **extra))


# Where a delta's text goes in its chunk; any text would do (its last occurrence is the delta's).
_STAND_IN = "stand-in"


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
