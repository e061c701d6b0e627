"""A scripted fake model API, and a clock it can move, for the tests of the pipeline and of runs."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from chat.fusion.judge import JudgeConsensus, JudgeOutput
from chat.providers.types import ChatRequest, StreamEnd, StreamEvent, TextDelta, Usage, UsageReport

# The panel of the runs the tests make (tests/conftest.py): three seats, a judge and a writer.
SEATS = ("alpha/one", "beta/two", "gamma/three")
JUDGE = "judge/j"
WRITER = "writer/w"


class FakeClock:
    """perf_counter's stand-in: time moves only when a test (or a script's Tick) says so.
    `sleep` is asyncio.sleep's: it returns once the clock has been moved that far on."""

    def __init__(self) -> None:
        self.now = 100.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for target, woken in self._sleepers:
            if target <= self.now and not woken.done():
                woken.set_result(None)
        self._sleepers = [(target, woken) for target, woken in self._sleepers if not woken.done()]

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken


@dataclass(frozen=True)
class Tick:
    """A script step that moves the fake clock on, as if the model took that long."""

    seconds: float


class Gate:
    """A place in a script where the stream stops until the test opens it.

    `reached` is set when the stream arrives there, so a test can wait for a seat to be
    mid-stream without sleeping.
    """

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    def open(self) -> None:
        self.opened.set()


# A script step: an item to stream, a gate, an event to wait for, an error to raise mid-stream,
# or a Tick of the fake clock.
Step = StreamEvent | Gate | asyncio.Event | BaseException | Tick
Script = Sequence[Step] | BaseException


class FakeModelClient:
    """Plays scripted responses per model, in the order they were scripted, and records every request.

    `script(model, steps)` queues one response; a model called twice (the judge and its repair)
    plays its scripts in order. An exception instead of steps fails the call before any item;
    an exception among the steps fails it mid-stream; an asyncio.Event or a Gate among the steps
    holds the stream there until the test sets or opens it; a Tick moves `clock` on.
    `closed` lists the models whose stream ended, in the order they ended, and `interrupted`
    those cancelled or closed before their script ran out: both are recorded in the generator's
    own `finally`/`except`, so they prove the stream was shut.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.requests: list[ChatRequest] = []
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
                if isinstance(step, Gate):
                    step.reached.set()
                    await step.opened.wait()
                elif isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, Tick):
                    self._tick(step)
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

    def _tick(self, tick: Tick) -> None:
        if self.clock is None:
            raise LookupError("the test scripted a Tick for a FakeModelClient made without a clock")
        self.clock.advance(tick.seconds)


def ending(
    *, prompt_tokens: int = 10, completion_tokens: int = 20, cost: float | None = None, complete: bool = True
) -> list[Step]:
    """The usage report and the end that close a stream: [DONE] unless told it was cut."""
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)
    return [
        UsageReport(usage=usage),
        StreamEnd(complete=complete, finish_reason="stop" if complete else None),
    ]


def answer(text: str, **ending_fields: Any) -> list[Step]:
    """A well-behaved stream: the text in word-sized deltas, then `ending(**ending_fields)`."""
    words = [word + " " for word in text.split(" ")]
    words[-1] = words[-1].rstrip(" ")
    return [*(TextDelta(text=word) for word in words), *ending(**ending_fields)]


def analysis_json(**overrides: Any) -> str:
    """A valid judge reply about three answers labelled A, B and C; keyword arguments replace its lists."""
    output = JudgeOutput(
        consensus=[JudgeConsensus(point="All three say the sky is blue.", responses=["A", "B", "C"])],
        contradictions=[],
        partial_coverage=[],
        unique_insights=[],
        blind_spots=["Nobody mentioned sunsets."],
    )
    return output.model_copy(update=overrides).model_dump_json()
