"""A scripted fake model API for the Django-side tests of runs, adapted from tests/fusion/conftest.py."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from chat.fusion.judge import JudgeConsensus, JudgeOutput
from chat.providers.types import ChatRequest, StreamEnd, StreamEvent, TextDelta, Usage, UsageReport

# The panel of the runs the tests make (tests/conftest.py): three seats, a judge and a writer.
SEATS = ("alpha/one", "beta/two", "gamma/three")
JUDGE = "judge/j"
WRITER = "writer/w"


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


# A script step: an item to stream, a gate, an event to wait for, or an error to raise mid-stream.
Step = StreamEvent | Gate | asyncio.Event | BaseException
Script = Sequence[Step] | BaseException


class FakeModelClient:
    """Plays scripted responses per model, in the order they were scripted, and records every request.

    `script(model, steps)` queues one response. An exception instead of steps fails the call
    before any item; an exception among the steps fails it mid-stream. `closed` lists the models
    whose stream ended, and `interrupted` those cancelled or closed before their script ran out:
    both are recorded in the generator's own `finally`/`except`, so they prove the stream was shut.
    """

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.closed: list[str] = []
        self.interrupted: list[str] = []
        self._scripts: defaultdict[str, deque[Script]] = defaultdict(deque)

    def script(self, model: str, response: Script) -> None:
        self._scripts[model].append(response)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
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


def ending(*, prompt_tokens: int = 10, completion_tokens: int = 20, cost: float | None = 0.001) -> list[Step]:
    """The usage report and the [DONE] that close a well-behaved stream."""
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost)
    return [UsageReport(usage=usage), StreamEnd(complete=True, finish_reason="stop")]


def answer(text: str, **usage: Any) -> list[Step]:
    """A well-behaved stream: the text in word-sized deltas, usage, and the end."""
    words = [word + " " for word in text.split(" ")]
    words[-1] = words[-1].rstrip(" ")
    return [*(TextDelta(text=word) for word in words), *ending(**usage)]


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
