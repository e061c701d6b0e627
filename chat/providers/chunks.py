"""Read the `data` payloads of a chat-completions stream into our StreamEvents."""

from __future__ import annotations

import json
import math
from typing import Annotated, TypedDict

from pydantic import AfterValidator, TypeAdapter, ValidationError

from chat.providers.errors import ProviderError, meaning_of_status
from chat.providers.text import safe_text
from chat.providers.types import (
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageReport,
)

DONE = "[DONE]"

# String codes OpenAI-style APIs put in an in-band error for faults that may pass.
_RETRYABLE_CODES = frozenset({"server_error", "rate_limit_exceeded", "timeout"})


# Provider JSON is outside data: the fields we use are validated, everything else is ignored.
# Typed dicts rather than models: pydantic-core validates them into plain dicts, half the cost of
# building four model instances, and this runs once per streamed token (bench/README.md, row 7).


class _FunctionFragment(TypedDict, total=False):
    name: str | None
    arguments: str | None


class _ToolCallFragment(TypedDict, total=False):
    # Some OpenAI-compatible servers (Gemini's) leave the index out; see _tool_call_deltas.
    index: int | None
    id: str | None
    function: _FunctionFragment | None


class _Delta(TypedDict, total=False):
    content: str | None
    # OpenRouter calls the thinking text `reasoning`; DeepSeek and vLLM `reasoning_content`.
    reasoning: str | None
    reasoning_content: str | None
    tool_calls: list[_ToolCallFragment] | None


class _Choice(TypedDict, total=False):
    delta: _Delta | None
    finish_reason: str | None


def _unreported_if_impossible[N: (int, float)](value: N | None) -> N | None:
    # A count or cost below zero, NaN or infinite cannot be true: read as if it were not sent,
    # so it is never saved, never lowers a total or a spend, and the catalog price is used.
    return value if value is not None and math.isfinite(value) and value >= 0 else None


# Wrong types stay malformed events; a number of the right type that cannot be true is unknown.
type _Reported[N: (int, float)] = Annotated[N | None, AfterValidator(_unreported_if_impossible)]


class _Usage(TypedDict, total=False):
    prompt_tokens: _Reported[int]
    completion_tokens: _Reported[int]
    cost: _Reported[float]


class _Error(TypedDict, total=False):
    message: str | None
    code: int | str | None


class _Chunk(TypedDict, total=False):
    choices: list[_Choice] | None
    usage: _Usage | None
    error: _Error | None


_CHUNK = TypeAdapter(_Chunk)  # keys not declared are ignored, as pydantic does by default


class ChunkReader:
    """Read one stream's payloads in order, remembering what the end of the stream needs.

    `done` turns True at the `[DONE]` sentinel; `finish_reason` holds the last one a chunk gave.
    """

    def __init__(self) -> None:
        self.done = False
        self.finish_reason: str | None = None

    def read(self, payload: str) -> list[StreamEvent]:
        """Return the events one payload carries.

        Raises ProviderError for an error the provider reported inside the stream, and for a
        payload that is not a chat.completion.chunk (not retryable: the same call would
        produce the same junk).
        """
        if payload.strip() == DONE:
            self.done = True
            return []
        chunk = _parse_chunk(payload)
        choices = chunk.get("choices")
        choice = choices[0] if choices else None
        if (error := chunk.get("error")) is not None:
            raise _in_band_error(error)
        finish_reason = choice.get("finish_reason") if choice is not None else None
        if finish_reason == "error":
            raise ProviderError(
                "The provider stopped the answer with an error.", retryable=True, kind="inband"
            )
        events: list[StreamEvent] = []
        if choice is not None:
            if finish_reason is not None:
                self.finish_reason = finish_reason
            if (delta := choice.get("delta")) is not None:
                events.extend(_delta_events(delta))
        if (usage := chunk.get("usage")) is not None:
            events.append(UsageReport(usage=_usage(usage)))
        return events


def _parse_chunk(payload: str) -> _Chunk:
    # Parsed and validated in one pass by pydantic-core: this runs once per streamed token.
    try:
        return _CHUNK.validate_json(payload)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise _not_a_chunk() from exc
    # pydantic-core refuses some JSON that Python's parser reads, lone surrogates above all;
    # safe_text cleans those later, so a provider that sends one still gets its answer through.
    try:
        data = json.loads(payload)
    except ValueError as exc:
        message = "The provider sent a malformed event that is not JSON."
        raise ProviderError(message, kind="malformed") from exc
    try:
        return _CHUNK.validate_python(data)
    except ValidationError as exc:
        raise _not_a_chunk() from exc


def _not_a_chunk() -> ProviderError:
    return ProviderError(
        "The provider sent a malformed event that is not a chat-completions chunk.", kind="malformed"
    )


def _in_band_error(error: _Error) -> ProviderError:
    """The ProviderError for an `{"error": {...}}` object sent inside a 200 stream."""
    code = error.get("code")
    status = _status_from_code(code)
    if status is not None:
        retryable = meaning_of_status(status).retryable
    else:
        retryable = isinstance(code, str) and code in _RETRYABLE_CODES
    detail = (error.get("message") or "").strip() or "no details given"
    return ProviderError(
        f"The provider stopped the answer with an error: {detail}",
        status=status,
        retryable=retryable,
        kind="inband",
    )


def _status_from_code(code: int | str | None) -> int | None:
    # OpenRouter puts the HTTP status in `code` (502, sometimes as "502"); OpenAI a word.
    if isinstance(code, int):
        return code if 100 <= code <= 599 else None
    if isinstance(code, str) and code.isdigit():
        return _status_from_code(int(code))
    return None


def _delta_events(delta: _Delta) -> list[StreamEvent]:
    # Every string a delta yields is made safe to store first; one that was nothing but NULs
    # is then empty and yields no event.
    events: list[StreamEvent] = []
    # Some servers send the same thinking under both names; `reasoning` wins so it is not doubled.
    reasoning = delta.get("reasoning")
    if reasoning is None:
        reasoning = delta.get("reasoning_content")
    if reasoning and (reasoning := safe_text(reasoning)):
        events.append(ReasoningDelta(text=reasoning))
    if (content := delta.get("content")) and (content := safe_text(content)):
        events.append(TextDelta(text=content))
    if tool_calls := delta.get("tool_calls"):
        events.extend(_tool_call_deltas(tool_calls))
    return events


def _tool_call_deltas(fragments: list[_ToolCallFragment]) -> list[StreamEvent]:
    # Without an index, a fragment's place in the list is the only identity it has; the servers
    # that omit it send each call whole, so that place is enough.
    deltas: list[StreamEvent] = []
    for position, fragment in enumerate(fragments):
        index, function = fragment.get("index"), fragment.get("function") or {}
        deltas.append(
            ToolCallDelta(
                index=index if index is not None else position,
                id=_safe_or_none(fragment.get("id")),
                name=_safe_or_none(function.get("name")),
                arguments=safe_text(function.get("arguments") or ""),
            )
        )
    return deltas


def _safe_or_none(text: str | None) -> str | None:
    return None if text is None else safe_text(text)


def _usage(usage: _Usage) -> Usage:
    return Usage(
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        cost=usage.get("cost"),
    )
