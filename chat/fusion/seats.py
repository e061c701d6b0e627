"""The panel's seats, each its own task, their events on one queue: the fan-out, the quorum and
the deadline that let the judge start before the slowest seat, and the late seats that go on
(or are stopped) while the judge and the writer work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from chat.fusion.calls import Clock, ModelCall, merged_stats
from chat.fusion.events import (
    LATE_STOPPED,
    CallStats,
    Event,
    PanelJudged,
    SeatDelta,
    SeatDone,
    SeatFailed,
    SeatReasoningDelta,
    SeatStarted,
    SeatToolCall,
    Source,
)
from chat.fusion.options import MIN_JUDGED
from chat.fusion.request import FusionRequest
from chat.fusion.tools import OUT_OF_CALLS, TOOL_SPECS, Toolbox, run_tool
from chat.providers.protocol import ModelClient
from chat.providers.types import ChatRequest, TextDelta

type Sleep = Callable[[float], Awaitable[None]]
type Outcome = SeatDone | SeatFailed

LATE_STOPPED_REASON = "Stopped when the panel was judged without it."


@dataclass(frozen=True)
class _Posted[T]:
    """An item of the stage that runs alongside late seats, on the seats' queue."""

    item: T


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name


# Queue markers: a seat's task ended; the deadline passed; the stage beside late seats ended.
_SEAT_ENDED = _Marker("seat ended")
_DEADLINE = _Marker("deadline")
_STAGE_ENDED = _Marker("stage ended")


class Seats:
    """Every seat of `request` asking its model at once, from `async with` until its end, which
    cancels and awaits whatever still runs (closing its stream).

        async with Seats(request, client, clock, started=t0) as seats:
            async for event in seats.until_judgeable(): ...   # every event until the judge may start
            async for item in seats.alongside(stage): ...      # the stage, and late seats' events

    `outcomes` holds each seat's last event (done or failed) as it arrives; `judged` the seats
    the judge reads (those that had ended when it started).
    """

    def __init__(
        self,
        request: FusionRequest,
        client: ModelClient,
        clock: Clock,
        *,
        started: float,
        toolbox: Toolbox | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._request = request
        self._client = client
        self._clock = clock
        self._started = started
        self._toolbox = toolbox
        self._sleep = sleep
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # Each seat's model calls, so that a seat stopped late still reports what it wrote and cost.
        self._calls: dict[int, list[ModelCall]] = {seat: [] for seat in range(len(request.seats))}
        self.outcomes: list[Outcome] = []
        # Kept as a set, not derived: it is read once per event, on every token's path.
        self._pending = set(range(len(request.seats)))
        self._ended_at: dict[int, float] = {}
        self.judged_event: PanelJudged | None = None

    async def __aenter__(self) -> Seats:
        for seat, model in enumerate(self._request.seats):
            task = asyncio.create_task(self._run(seat, model), name=f"seat {seat}")
            task.add_done_callback(lambda _: self._queue.put_nowait(_SEAT_ENDED))
            self._tasks.append(task)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await _cancel_and_wait(self._tasks)

    @property
    def pending(self) -> list[int]:
        """Seats that have not ended yet, in seat order."""
        return sorted(self._pending)

    @property
    def judged(self) -> list[Outcome]:
        """The outcomes the judge reads: all of them, or those in before the panel was judged early."""
        if self.judged_event is None:
            return list(self.outcomes)
        return [outcome for outcome in self.outcomes if outcome.seat in self.judged_event.judged]

    async def until_judgeable(self) -> AsyncGenerator[Event, None]:
        """Every seat's events until all have ended, or until the panel's quorum or deadline lets
        the judge start: then PanelJudged, and, if the panel stops late seats, their ends."""
        options = self._request.options
        timer = None
        if options.cuts_early and options.deadline_s is not None:
            remaining = options.deadline_s - (self._clock() - self._started)
            timer = asyncio.create_task(self._deadline(remaining), name="deadline")
        deadline_passed = False
        cause: Literal["quorum", "deadline"] | None = None
        try:
            while self._pending:
                item = await self._queue.get()
                if item is _DEADLINE:
                    deadline_passed = True
                elif not isinstance(item, _Marker):
                    yield self._seen(item)  # type: ignore[arg-type]
                cause = self._early_cause(deadline_passed)
                if cause is not None:
                    # Seats that ended in the same instant are not late: what is queued is said first.
                    while self._pending and not self._queue.empty():
                        if not isinstance(queued := self._queue.get_nowait(), _Marker):
                            yield self._seen(queued)  # type: ignore[arg-type]
                    if self._pending:
                        break
            else:
                # Seats turn provider faults into events; anything raised is a bug of ours: say it loudly.
                await asyncio.gather(*self._tasks)
                return
        finally:
            if timer is not None:
                await _cancel_and_wait([timer])
        assert cause is not None
        answered = [o.seat for o in self.outcomes if isinstance(o, SeatDone)]
        at_ms = (self._clock() - self._started) * 1000
        self.judged_event = PanelJudged(judged=answered, late=self.pending, cause=cause, at_ms=at_ms)
        yield self.judged_event
        if options.late_seats == "stop":
            async for event in self._stop_late():
                yield event

    def _early_cause(self, deadline_passed: bool) -> Literal["quorum", "deadline"] | None:
        options = self._request.options
        if not options.cuts_early:
            return None
        answered = sum(isinstance(outcome, SeatDone) for outcome in self.outcomes)
        if options.quorum is not None and answered >= options.quorum:
            return "quorum"
        if deadline_passed and answered >= MIN_JUDGED:
            return "deadline"
        return None

    async def _deadline(self, remaining: float) -> None:
        await self._sleep(max(0.0, remaining))
        self._queue.put_nowait(_DEADLINE)

    async def _stop_late(self) -> AsyncGenerator[Event, None]:
        late = self.pending
        await _cancel_and_wait([self._tasks[seat] for seat in late])
        # What the stopped seats streamed before the stop is still on the queue: said first.
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, SeatDone | SeatFailed):
                continue  # none: a seat that had ended is not late
            if not isinstance(item, _Marker):
                yield self._seen(item)  # type: ignore[arg-type]
        for seat in late:
            calls = self._calls[seat]
            model = self._request.seats[seat]
            stats = merged_stats(calls) if calls else CallStats(model=model)
            text = "".join(call.text for call in calls)
            yield self._seen(
                SeatFailed(
                    seat=seat, reason=LATE_STOPPED_REASON, partial_text=text, stats=stats, kind=LATE_STOPPED
                )
            )

    async def alongside[T](self, stage: AsyncGenerator[T, None]) -> AsyncGenerator[T | Event, None]:
        """`stage`'s items, and the late seats' events as they come, until both have ended; the
        stage's last item is held until then (it ends the run, which would stop the late seats)."""
        if not self._pending:
            async with aclosing(stage) as items:
                async for item in items:
                    yield item
            return

        async def post() -> None:
            async with aclosing(stage) as items:
                async for item in items:
                    self._queue.put_nowait(_Posted(item))

        poster = asyncio.create_task(post(), name="stage beside late seats")
        poster.add_done_callback(lambda _: self._queue.put_nowait(_STAGE_ENDED))
        held: list[T] = []
        try:
            stage_running = True
            while stage_running or self._pending:
                got = await self._queue.get()
                if got is _STAGE_ENDED:
                    stage_running = False
                elif isinstance(got, _Posted):
                    held.append(got.item)
                    if len(held) > 1:
                        yield held.pop(0)
                elif not isinstance(got, _Marker):
                    yield self._seen(got)  # type: ignore[arg-type]
            await poster  # the stage's own error, if it raised one
        finally:
            await _cancel_and_wait([poster])
        for item in held:
            yield item

    def late_summary(self) -> str:
        """What the panel was judged on, for the run's note: "Judged on 2 of 3 seats (quorum);
        gamma/three answered 8 s later." Empty when it waited for every seat."""
        judged = self.judged_event
        if judged is None:
            return ""
        total = len(self._request.seats)
        why = "its quorum" if judged.cause == "quorum" else "its deadline"
        parts = []
        for seat in judged.late:
            model = self._request.seats[seat]
            outcome = next((o for o in self.outcomes if o.seat == seat), None)
            if isinstance(outcome, SeatDone):
                later = (self._ended_at[seat] - self._started) - judged.at_ms / 1000
                parts.append(f"{model} answered {max(later, 0):.0f} s later")
            elif isinstance(outcome, SeatFailed) and outcome.kind == LATE_STOPPED:
                parts.append(f"{model} was stopped")
            else:
                parts.append(f"{model} failed later")
        return f"Judged on {len(judged.judged)} of {total} seats at {why}; {', '.join(parts)}."

    def _seen(self, event: Event) -> Event:
        if isinstance(event, SeatDone | SeatFailed):
            self.outcomes.append(event)
            self._pending.discard(event.seat)
            self._ended_at[event.seat] = self._clock()
        return event

    # --- one seat ------------------------------------------------------------------------------

    async def _run(self, seat: int, model: str) -> None:
        request, emit, calls = self._request, self._queue.put_nowait, self._calls[seat]
        emit(SeatStarted(seat=seat, model=model))
        if (kept := request.reuse.get(seat)) is not None:
            if kept.failure is not None:
                emit(
                    SeatFailed(
                        seat=seat, reason=kept.failure, partial_text=kept.text, stats=kept.stats, reused=True
                    )
                )
            else:
                emit(
                    SeatDone(seat=seat, text=kept.text, stats=kept.stats, complete=kept.complete, reused=True)
                )
            return
        if request.web_search and self._toolbox is not None:
            await _research_and_answer(
                seat, model, request, self._client, self._clock, emit, self._toolbox, calls
            )
            return
        chat = ChatRequest(
            model=model, messages=request.seat_messages(), **request.answer_options(seat), seat=seat
        )
        call = ModelCall(self._client, chat, request.catalog.get(model), self._clock, request.limits)
        calls.append(call)
        await _stream_seat_call(seat, call, emit)
        emit(_seat_outcome(seat, call))


async def _stream_seat_call(seat: int, call: ModelCall, emit: Callable[[Event], None]) -> None:
    async with aclosing(call.deltas()) as deltas:
        async for delta in deltas:
            if not delta.text:
                continue
            if isinstance(delta, TextDelta):
                emit(SeatDelta(seat=seat, text=delta.text))
            else:
                emit(SeatReasoningDelta(seat=seat, text=delta.text))


async def _research_and_answer(
    seat: int,
    model: str,
    request: FusionRequest,
    client: ModelClient,
    clock: Clock,
    emit: Callable[[Event], None],
    toolbox: Toolbox,
    calls: list[ModelCall],
) -> None:
    """The tool loop: the seat may search and read, up to its bound, then answers; each call is
    added to `calls` as it starts."""
    messages = list(request.seat_messages())
    sources: dict[str, Source] = {}
    calls_left = request.max_tool_calls
    while True:
        offer = calls_left > 0
        chat = ChatRequest(
            model=model,
            messages=messages if offer else [*messages, {"role": "system", "content": OUT_OF_CALLS}],
            **request.answer_options(seat),
            tools=TOOL_SPECS if offer else None,
            seat=seat,
        )
        call = ModelCall(client, chat, request.catalog.get(model), clock, request.limits)
        calls.append(call)
        await _stream_seat_call(seat, call, emit)
        if call.failure is not None or not call.tool_calls or not offer:
            break
        messages.append(
            {"role": "assistant", "content": call.text or None, "tool_calls": _as_wire(call.tool_calls)}
        )
        for asked in call.tool_calls:
            if calls_left <= 0:
                # Every call the model made must be answered, even the ones past the bound.
                messages.append(
                    {"role": "tool", "tool_call_id": asked["id"], "content": "Not run: no tool calls left."}
                )
                continue
            calls_left -= 1
            outcome = await run_tool(toolbox, asked["name"], asked["arguments"])
            emit(
                SeatToolCall(
                    seat=seat,
                    tool=_tool_name(outcome.tool),
                    argument=outcome.argument,
                    ok=outcome.ok,
                    detail=outcome.detail,
                )
            )
            sources.update((source.url, source) for source in outcome.sources)
            messages.append({"role": "tool", "tool_call_id": asked["id"], "content": outcome.content})
    emit(_research_outcome(seat, calls, list(sources.values())))


def _as_wire(tool_calls: list[dict[str, str]]) -> list[dict[str, object]]:
    return [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
        }
        for call in tool_calls
    ]


def _tool_name(name: str) -> Literal["web_search", "web_fetch"]:
    return "web_fetch" if name == "web_fetch" else "web_search"


def _research_outcome(seat: int, calls: list[ModelCall], sources: list[Source]) -> SeatDone | SeatFailed:
    text = "".join(call.text for call in calls)
    last = calls[-1]
    stats = merged_stats(calls)
    if last.failure is not None:
        return SeatFailed(
            seat=seat, reason=last.failure, partial_text=text, stats=stats, kind=last.failure_kind
        )
    if not text.strip():
        return SeatFailed(seat=seat, reason=last.why_unusable() or "The model returned no text.", stats=stats)
    return SeatDone(seat=seat, text=text, stats=stats, complete=last.complete, sources=sources[:12])


def _seat_outcome(seat: int, call: ModelCall) -> SeatDone | SeatFailed:
    reason = call.why_unusable()
    if reason is not None:
        return SeatFailed(
            seat=seat, reason=reason, partial_text=call.text, stats=call.stats(), kind=call.failure_kind
        )
    return SeatDone(seat=seat, text=call.text, stats=call.stats(), complete=call.complete)


async def _cancel_and_wait(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    # Waiting matters: a cancelled seat still has to unwind, and unwinding closes its stream.
    # asyncio.wait retrieves nothing, so a seat that crashed is still reported by asyncio itself.
    if tasks:
        await asyncio.wait(tasks)
