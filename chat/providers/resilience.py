"""A ModelClient that puts time limits on another and retries the failures that may pass."""

from __future__ import annotations

import asyncio
import logging
import math
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
            watch = _Watch(loop, deadline)
            try:
                while True:
                    due = first_token_due if phase == "first_token" else loop.time() + self.timeouts.stall
                    try:
                        event = await self._next(events, phase, due, watch)
                    except StopAsyncIteration:
                        return
                    if phase == "first_token" and isinstance(event, _TOKENS):
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
                watch.close()
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
        self, events: AsyncIterator[StreamEvent], phase: _Phase, due: float, watch: _Watch
    ) -> StreamEvent:
        """The next event, due by `due` (the phase's limit) and the call's deadline."""
        task = watch.waiting(due)
        cancelling = task.cancelling()
        try:
            event = await anext(events)
        except asyncio.CancelledError:
            # Ours only if no one else asked for the task to stop meanwhile.
            if not watch.expired or task.uncancel() > cancelling:
                raise
            raise self._limit_passed(phase, due, watch.deadline) from None
        finally:
            watch.idle()
        if watch.expired:  # the event came as the limit passed, and the stream kept it: withdraw ours
            task.uncancel()
            watch.expired = False
        return event

    def _limit_passed(self, phase: _Phase, due: float, deadline: float) -> ProviderError:
        if due <= deadline:
            return self._phase_timeout(phase)
        return ProviderError(
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


class _Watch:
    """One attempt's time limits, kept by a single timer that is moved only when it fires.

    A token costs setting when the next event is due, not a timer scheduled and cancelled (an
    `asyncio.timeout` per event was a few per cent of the server's CPU per token). When the
    timer fires before the event it waits for is due, it is set again for that time; when the
    event is overdue, it cancels the waiting task, as `asyncio.timeout` would, and `expired`
    tells the waiter the cancellation was the limit's.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._loop = loop
        self._due = math.inf  # when the awaited event is due; inf while nothing is awaited
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def waiting(self, due: float) -> asyncio.Task[object]:
        """The current task starts waiting for an event due by `due` (or the deadline)."""
        task = asyncio.current_task()
        assert task is not None
        self._task, self._due = task, min(due, self.deadline)
        if self._due < self._timer_at:  # a later timer would fire late: only at a phase change
            self._arm()
        return task

    def idle(self) -> None:
        self._due = math.inf

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf

    def _arm(self) -> None:
        self.close()
        self._timer, self._timer_at = self._loop.call_at(self._due, self._fire), self._due

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self._due == math.inf:
            return  # nothing awaited: the next wait sets the timer again
        if self._loop.time() < self._due:
            self._arm()
        elif self._task is not None:
            self.expired = True
            self._task.cancel()


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
