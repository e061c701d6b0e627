"""A scripted fake model API, a controllable clock, and helpers the pipeline's tests share."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from chat.fusion.events import Event
from chat.fusion.judge import JudgeConsensus, JudgeOutput
from chat.fusion.request import FusionRequest
from chat.providers.types import ChatRequest, ModelInfo, StreamEnd, StreamEvent, TextDelta, Usage, UsageReport


class FakeClock:
    """perf_counter's stand-in: time moves only when a test (or a script's Tick) says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Tick:
    """A script step that moves the fake clock on, as if the model took that long."""

    seconds: float


# A script step: an item to stream, a gate to wait at, an error to raise mid-stream, or a Tick.
Step = StreamEvent | asyncio.Event | BaseException | Tick
Script = Sequence[Step] | BaseException


class FakeModelClient:
    """Plays scripted responses per model, in the order they were scripted, and records every request.

    `script(model, steps)` queues one response; a model called twice (the judge and its repair)
    plays its scripts in order. An exception instead of steps fails the call before any item;
    an exception among the steps fails it mid-stream. An asyncio.Event among the steps holds the
    stream there until the test sets it.
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.requests: list[ChatRequest] = []
        # Models whose stream ended, in the order they ended; `interrupted` is the subset that
        # was cancelled or closed before its script ran out.
        self.closed: list[str] = []
        self.interrupted: list[str] = []
        self._scripts: defaultdict[str, deque[Script]] = defaultdict(deque)
        self._changed = asyncio.Condition()

    def script(self, model: str, response: Script) -> None:
        self._scripts[model].append(response)

    def requests_for(self, model: str) -> list[ChatRequest]:
        return [request for request in self.requests if request.model == model]

    async def wait_for_requests(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        async with self._changed:
            self._changed.notify_all()
        try:
            script = self._next_script(request.model)
            if isinstance(script, BaseException):
                raise script
            for step in script:
                if isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, Tick):
                    self.clock.advance(step.seconds)
                elif isinstance(step, BaseException):
                    raise step
                else:
                    yield step
        except (asyncio.CancelledError, GeneratorExit):
            self.interrupted.append(request.model)
            raise
        finally:
            self.closed.append(request.model)

    def _next_script(self, model: str) -> Script:
        if not self._scripts[model]:
            raise LookupError(f"the test scripted no (more) responses for {model}")
        return self._scripts[model].popleft()


def answer(
    text: str,
    *,
    prompt_tokens: int = 10,
    completion_tokens: int = 20,
    cost: float | None = None,
    complete: bool = True,
) -> list[Step]:
    """A well-behaved stream: the text in word-sized deltas, usage, and the end."""
    words = [word + " " for word in text.split(" ")]
    words[-1] = words[-1].rstrip(" ")
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)
    return [
        *(TextDelta(text=word) for word in words),
        UsageReport(usage=usage),
        StreamEnd(complete=complete, finish_reason="stop" if complete else None),
    ]


def analysis_json(**overrides: Any) -> str:
    """A valid judge reply; keyword arguments replace its lists."""
    output = JudgeOutput(
        consensus=[JudgeConsensus(point="Both say the sky is blue.", responses=["A", "B"])],
        contradictions=[],
        partial_coverage=[],
        unique_insights=[],
        blind_spots=["Nobody mentioned sunsets."],
    )
    return output.model_copy(update=overrides).model_dump_json()


def model_info(model_id: str, **fields: Any) -> ModelInfo:
    return ModelInfo(id=model_id, name=model_id, endpoint="test", **fields)


def make_request(
    seats: Sequence[str] = ("alpha/one", "beta/two", "gamma/three"),
    judge: str = "judge/j",
    **fields: Any,
) -> FusionRequest:
    fields.setdefault("messages", [{"role": "user", "content": "Why is the sky blue?"}])
    return FusionRequest(seats=list(seats), judge=judge, **fields)


async def collect(events: AsyncGenerator[Event, None]) -> list[Event]:
    return [event async for event in events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeModelClient:
    return FakeModelClient(clock)
