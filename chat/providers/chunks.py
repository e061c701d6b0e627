"""Read the `data` payloads of a chat-completions stream into our StreamEvents."""

from __future__ import annotations

import json
import math
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

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


class _Wire(BaseModel):
    # Provider JSON is outside data: read the fields we use, ignore everything else.
    model_config = ConfigDict(extra="ignore")


class _FunctionFragment(_Wire):
    name: str | None = None
    arguments: str | None = None


class _ToolCallFragment(_Wire):
    # Some OpenAI-compatible servers (Gemini's) leave the index out; see _tool_call_deltas.
    index: int | None = None
    id: str | None = None
    function: _FunctionFragment | None = None


class _Delta(_Wire):
    content: str | None = None
    # OpenRouter calls the thinking text `reasoning`; DeepSeek and vLLM `reasoning_content`.
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ToolCallFragment] | None = None


class _Choice(_Wire):
    delta: _Delta | None = None
    finish_reason: str | None = None


def _unreported_if_impossible[N: (int, float)](value: N | None) -> N | None:
    # A count or cost below zero, NaN or infinite cannot be true: read as if it were not sent,
    # so it is never saved, never lowers a total or a spend, and the catalog price is used.
    return value if value is not None and math.isfinite(value) and value >= 0 else None


# Wrong types stay malformed events; a number of the right type that cannot be true is unknown.
type _Reported[N: (int, float)] = Annotated[N | None, AfterValidator(_unreported_if_impossible)]


class _Usage(_Wire):
    prompt_tokens: _Reported[int] = None
    completion_tokens: _Reported[int] = None
    cost: _Reported[float] = None


class _Error(_Wire):
    message: str | None = None
    code: int | str | None = None


class _Chunk(_Wire):
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: _Error | None = None


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
        choice = chunk.choices[0] if chunk.choices else None
        if chunk.error is not None:
            raise _in_band_error(chunk.error)
        if choice is not None and choice.finish_reason == "error":
            raise ProviderError(
                "The provider stopped the answer with an error.", retryable=True, kind="inband"
            )
        events: list[StreamEvent] = []
        if choice is not None:
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            if choice.delta is not None:
                events.extend(_delta_events(choice.delta))
        if chunk.usage is not None:
            events.append(UsageReport(usage=_usage(chunk.usage)))
        return events


def _parse_chunk(payload: str) -> _Chunk:
    # Parsed and validated in one pass by pydantic-core: this runs once per streamed token.
    try:
        return _Chunk.model_validate_json(payload)
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
        return _Chunk.model_validate(data)
    except ValidationError as exc:
        raise _not_a_chunk() from exc


def _not_a_chunk() -> ProviderError:
    return ProviderError(
        "The provider sent a malformed event that is not a chat-completions chunk.", kind="malformed"
    )


def _in_band_error(error: _Error) -> ProviderError:
    """The ProviderError for an `{"error": {...}}` object sent inside a 200 stream."""
    status = _status_from_code(error.code)
    if status is not None:
        retryable = meaning_of_status(status).retryable
    else:
        retryable = isinstance(error.code, str) and error.code in _RETRYABLE_CODES
    detail = (error.message or "").strip() or "no details given"
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
    reasoning = delta.reasoning if delta.reasoning is not None else delta.reasoning_content
    if reasoning and (reasoning := safe_text(reasoning)):
        events.append(ReasoningDelta(text=reasoning))
    if delta.content and (content := safe_text(delta.content)):
        events.append(TextDelta(text=content))
    if delta.tool_calls:
        events.extend(_tool_call_deltas(delta.tool_calls))
    return events


def _tool_call_deltas(fragments: list[_ToolCallFragment]) -> list[StreamEvent]:
    # Without an index, a fragment's place in the list is the only identity it has; the servers
    # that omit it send each call whole, so that place is enough.
    return [
        ToolCallDelta(
            index=fragment.index if fragment.index is not None else position,
            id=_safe_or_none(fragment.id),
            name=_safe_or_none(fragment.function.name if fragment.function else None),
            arguments=safe_text(fragment.function.arguments or "") if fragment.function else "",
        )
        for position, fragment in enumerate(fragments)
    ]


def _safe_or_none(text: str | None) -> str | None:
    return None if text is None else safe_text(text)


def _usage(usage: _Usage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cost=usage.cost,
    )
