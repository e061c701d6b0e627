"""One streamed model call: its text, usage, timing, and how it ended."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from contextlib import aclosing
from typing import Literal

from chat.fusion.events import CallStats, RunTotals
from chat.fusion.request import OutputLimits
from chat.providers.errors import ErrorKind, ProviderError
from chat.providers.protocol import ModelClient
from chat.providers.types import (
    ChatRequest,
    ModelInfo,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageReport,
)

logger = logging.getLogger(__name__)

# What a call's limits bound, and how a "too long" failure names each.
_Part = Literal["answer", "reasoning", "tool_arguments"]
_TOO_LONG: dict[_Part, str] = {
    "answer": "The answer",
    "reasoning": "The reasoning",
    "tool_arguments": "A tool call's arguments",
}

# Seconds from an arbitrary origin, like time.perf_counter; injected so tests can control time.
Clock = Callable[[], float]


class ModelCall:
    """Consumes one call's stream and remembers what it said, what it cost and how it ended.

    Iterate `deltas()` (inside `aclosing`) to receive the text and reasoning as they arrive;
    afterwards `text`, `complete`, `failure` and `stats()` describe the call. A provider fault
    or an unexpected exception ends the stream early and is kept in `failure` (the reason to
    show) and `failure_kind` (the ProviderError's kind, e.g. "stall"; None when it had none),
    so callers deal in values, never in exceptions; cancellation still propagates.

    `limits` bounds what the call may stream: past its answer, reasoning or tool-argument
    limit the stream is closed and the call fails "too long" (failure_kind "too_long"), keeping
    what arrived up to the limit, never silently cut.
    """

    def __init__(
        self,
        client: ModelClient,
        request: ChatRequest,
        info: ModelInfo | None,
        clock: Clock,
        limits: OutputLimits | None = None,
    ) -> None:
        self.request = request
        self._client = client
        self._info = info
        self._clock = clock
        self._limits = limits or OutputLimits()
        self._parts: list[str] = []
        # Characters kept so far of each part a limit bounds.
        self._used: dict[_Part, int] = {"answer": 0, "reasoning": 0, "tool_arguments": 0}
        self._limit_of: dict[_Part, int] = {
            "answer": self._limits.answer_chars,
            "reasoning": self._limits.reasoning_chars,
            "tool_arguments": self._limits.tool_argument_chars,
        }
        self._tool_calls: dict[int, dict[str, str]] = {}
        self._usage: Usage | None = None
        self._started: float | None = None
        self._first_token: float | None = None
        self._ended: float | None = None
        # True only once the provider said [DONE]; a stream that just stops is cut short.
        self.complete = False
        self.finish_reason: str | None = None
        self.failure: str | None = None
        self.failure_kind: ErrorKind | None = None

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    async def deltas(self) -> AsyncGenerator[TextDelta | ReasoningDelta, None]:
        self._started = self._clock()
        try:
            async with aclosing(_as_generator(self._client.stream(self.request))) as stream:
                async for item in stream:
                    delta = self._observe(item)
                    if delta is not None:
                        yield delta
                    if self.failure is not None:
                        break  # past a limit: aclosing closes the stream, and its response
        except ProviderError as error:
            self.failure = error.message
            self.failure_kind = error.kind
        except Exception as error:
            # A bug in a client must not take the whole run down: it becomes this call's
            # failure, and the traceback goes to the log where someone can fix it.
            logger.exception("Unexpected error while streaming from %s", self.request.model)
            self.failure = f"Unexpected error: {type(error).__name__}"
        finally:
            self._ended = self._clock()

    async def collect(self) -> str:
        """Consume the whole stream and return its text."""
        async with aclosing(self.deltas()) as deltas:
            async for _ in deltas:
                pass
        return self.text

    def _observe(self, item: StreamEvent) -> TextDelta | ReasoningDelta | None:
        """Record one stream item; return it when the caller should see it."""
        if isinstance(item, TextDelta | ReasoningDelta):
            if item.text and self._first_token is None:
                self._first_token = self._clock()
            is_text = isinstance(item, TextDelta)
            kept = self._within("answer" if is_text else "reasoning", item.text)
            if len(kept) < len(item.text):  # a new event only for the one cut at the limit
                item = TextDelta(text=kept) if is_text else ReasoningDelta(text=kept)
            if is_text:
                self._parts.append(kept)
            return item
        if isinstance(item, UsageReport):
            # The last report carries the totals for the call.
            self._usage = item.usage
        elif isinstance(item, StreamEnd):
            self.complete = item.complete
            self.finish_reason = item.finish_reason
        elif isinstance(item, ToolCallDelta):
            # Fragments with the same index make one call: the id and name come once, the
            # arguments in pieces.
            call = self._tool_calls.setdefault(item.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = item.id or call["id"]
            call["name"] = item.name or call["name"]
            call["arguments"] += self._within("tool_arguments", item.arguments)
        return None

    def _within(self, part: _Part, text: str) -> str:
        """`text`, or the share of it that fits the part's limit; past it, the call fails."""
        limit = self._limit_of[part]
        used = self._used[part]
        if used + len(text) <= limit:
            self._used[part] = used + len(text)
            return text
        kept = text[: max(limit - used, 0)]
        self._used[part] = used + len(kept)
        self.failure = f"{_TOO_LONG[part]} passed the {limit:,}-character limit; what arrived is kept."
        self.failure_kind = "too_long"
        return kept

    @property
    def tool_calls(self) -> list[dict[str, str]]:
        """The calls the model asked for, in order, each with an id (made up if it sent none)."""
        calls = [self._tool_calls[index] for index in sorted(self._tool_calls)]
        return [{**call, "id": call["id"] or f"call_{n}"} for n, call in enumerate(calls) if call["name"]]

    def why_unusable(self) -> str | None:
        """Why the call gave no answer to show: its failure, or a stream without text; else None."""
        if self.failure is not None:
            return self.failure
        if self.has_text:
            return None
        if not self.complete:
            return "The stream ended before any text arrived."
        because = f" (finish reason: {self.finish_reason})" if self.finish_reason else ""
        return f"The model returned no text{because}."

    def stats(self) -> CallStats:
        usage = self._usage or Usage()
        started = self._started if self._started is not None else self._clock()
        ended = self._ended if self._ended is not None else self._clock()
        return CallStats(
            model=self.request.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost_of_call(self._usage, self._info),
            ttft_ms=None if self._first_token is None else _ms(self._first_token - started),
            duration_ms=_ms(ended - started),
        )


def cost_of_call(usage: Usage | None, info: ModelInfo | None) -> float | None:
    """The provider's own figure when it sent one, else catalog prices, else unknown."""
    if usage is None:
        # Without token counts even a known price gives no figure: 0 would be a lie.
        return None
    if usage.cost is not None:
        return usage.cost
    return info.cost_of(usage) if info is not None else None


def run_totals(calls: Iterable[CallStats], duration_ms: float) -> RunTotals:
    calls = list(calls)
    known_costs = [call.cost for call in calls if call.cost is not None]
    return RunTotals(
        prompt_tokens=sum(call.prompt_tokens for call in calls),
        completion_tokens=sum(call.completion_tokens for call in calls),
        cost=sum(known_costs) if known_costs else None,
        duration_ms=duration_ms,
    )


def _ms(seconds: float) -> float:
    return max(seconds, 0.0) * 1000


def _as_generator(stream: AsyncIterator[StreamEvent]) -> AsyncGenerator[StreamEvent, None]:
    # The protocol promises only an iterator; a generator (every client of ours) is its own
    # aclose(), and needs no wrapper on every token's path.
    if isinstance(stream, AsyncGenerator):
        return stream
    return _wrapped(stream)


async def _wrapped(stream: AsyncIterator[StreamEvent]) -> AsyncGenerator[StreamEvent, None]:
    # Wrapping it gives us an aclose() that also closes the client's own iterator when it has
    # one, so its HTTP response is released.
    try:
        async for item in stream:
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def merged_stats(calls: list[ModelCall]) -> CallStats:
    """One seat's figures over the several calls of a research loop."""
    each = [call.stats() for call in calls]
    costs = [stats.cost for stats in each if stats.cost is not None]
    return CallStats(
        model=each[0].model,
        prompt_tokens=sum(stats.prompt_tokens for stats in each),
        completion_tokens=sum(stats.completion_tokens for stats in each),
        cost=sum(costs) if costs else None,
        ttft_ms=next((stats.ttft_ms for stats in each if stats.ttft_ms is not None), None),
        duration_ms=sum(stats.duration_ms for stats in each),
    )
