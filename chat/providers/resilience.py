"""A ModelClient that puts time limits on another and retries the failures that may pass."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Literal

from chat.providers.client import complete_text
from chat.providers.errors import ErrorKind, ProviderError
from chat.providers.policy import RetryPolicy, Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.types import (
    ChatRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]
_Phase = Literal["first_token", "stall"]

# Failures that are never tried again, however `retryable` they are: the time they waited was
# the user's, and a model that kept them waiting once is likely to do it again.
_TIMEOUT_KINDS: frozenset[ErrorKind | None] = frozenset({"first_token_timeout", "stall", "total_timeout"})
_TOKENS = (TextDelta, ReasoningDelta, ToolCallDelta)


class ResilientClient:
    """Wrap a ModelClient (one endpoint's client or the ModelRouter) with time limits and retries.

    Limits (`timeouts`): the first content, reasoning or tool-call delta must come within
    `first_token` seconds of the attempt's start, and after it each event within `stall` seconds
    of being asked for, the whole call (retries and waits included) within `total` seconds.
    Keep-alive comments yield no event, so they never count as a token. The connect limit
    belongs to the HTTP client (OpenAICompatibleClient's `timeouts`). A limit that passes closes
    the inner stream, and with it the HTTP response, and raises ProviderError of kind
    "first_token_timeout", "stall" or "total_timeout".

    Retries (`policy`): a retryable ProviderError (connection errors, 408, 409, 429, 5xx, a
    retryable in-band error) is tried again after a backoff, up to `policy.attempts` requests in
    all, but only while nothing has been yielded: once the caller has seen an event, the error
    is raised and the text it received stays valid. Timeouts and other errors are raised at once.

    `sleep` and `rand` are injectable so tests neither sleep nor depend on chance.
    """

    def __init__(
        self,
        inner: ModelClient,
        policy: RetryPolicy,
        timeouts: Timeouts,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Random = random.random,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.timeouts = timeouts
        self._sleep = sleep
        self._rand = rand

    def __repr__(self) -> str:
        return f"ResilientClient({self.inner!r}, {self.policy!r}, {self.timeouts!r})"

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """See ModelClient.stream; the caller sees the events of exactly one attempt."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.total
        failures = 0
        while True:
            events = self.inner.stream(request)
            # The first token is due a fixed time after the attempt starts, whatever comes
            # before it; after it, each event is due a fixed time after it is asked for (time the
            # caller spends on the one before is not the provider's stall).
            first_token_due = loop.time() + self.timeouts.first_token
            phase: _Phase = "first_token"
            yielded = False
            try:
                while True:
                    due = first_token_due if phase == "first_token" else loop.time() + self.timeouts.stall
                    try:
                        event = await self._next(events, phase, due, deadline)
                    except StopAsyncIteration:
                        return
                    if isinstance(event, _TOKENS):
                        phase = "stall"
                    yielded = True
                    yield event
            except ProviderError as error:
                failures += 1
                delay = self._retry_delay(error, failures, yielded, deadline - loop.time())
                if delay is None and failures == 1:
                    raise
                if delay is None:
                    raise _after_attempts(error, failures) from error
                logger.info(
                    "Retrying %s in %.2f s: attempt %d of %d failed (%s): %s",
                    request.model,
                    delay,
                    failures,
                    self.policy.attempts,
                    error.kind,
                    error.message,
                )
            finally:
                # Before any wait: the failed attempt's HTTP response must not stay open.
                await _aclose(events)
            await self._sleep(delay)

    async def complete(self, request: ChatRequest) -> tuple[str, Usage]:
        """The whole answer and its usage; see complete_text."""
        return await complete_text(self, request)

    def _retry_delay(
        self, error: ProviderError, failures: int, yielded: bool, remaining: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none to make."""
        if yielded or not error.retryable or error.kind in _TIMEOUT_KINDS:
            return None
        if failures >= self.policy.attempts:
            return None
        delay = self.policy.delay(failures, retry_after=error.retry_after, rand=self._rand)
        # A wait that would outlast the call's total limit is pointless: the provider's own
        # error says more than a timeout would.
        return delay if delay < remaining else None

    async def _next(
        self, events: AsyncIterator[StreamEvent], phase: _Phase, due: float, deadline: float
    ) -> StreamEvent:
        """The next event, due by `due` (the phase's limit) and `deadline` (the call's)."""
        timer = asyncio.timeout_at(min(due, deadline))
        try:
            async with timer:
                return await anext(events)
        except TimeoutError:
            if not timer.expired():
                # Not our limit: something inside raised it, and it is a bug to report as such.
                raise
        if due <= deadline:
            raise self._phase_timeout(phase)
        raise ProviderError(
            f"The call took longer than its {_seconds(self.timeouts.total)} limit and was stopped.",
            retryable=True,
            kind="total_timeout",
        )

    def _phase_timeout(self, phase: _Phase) -> ProviderError:
        if phase == "first_token":
            return ProviderError(
                f"The model did not start answering within {_seconds(self.timeouts.first_token)}.",
                retryable=True,
                kind="first_token_timeout",
            )
        return ProviderError(
            f"The answer stalled: nothing more arrived for {_seconds(self.timeouts.stall)}, "
            "so it was stopped.",
            retryable=True,
            kind="stall",
        )


def _after_attempts(error: ProviderError, attempts: int) -> ProviderError:
    """The last attempt's error, saying how often the call was tried."""
    return ProviderError(
        f"{error.message} (tried {attempts} times)",
        status=error.status,
        retryable=error.retryable,
        retry_after=error.retry_after,
        kind=error.kind,
    )


def _seconds(value: float) -> str:
    return f"{value:g} s"


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    # Closing the inner stream closes its HTTP response at once, not when the GC finds it.
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()
