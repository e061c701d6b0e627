"""A fusion run: the panel answers concurrently, the judge compares, the writer fuses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from chat.fusion import consult
from chat.fusion.analysis import Analysis
from chat.fusion.calls import Clock, ModelCall, merged_stats, run_totals
from chat.fusion.context import fit_thread
from chat.fusion.events import (
    AnalysisFailed,
    AnalysisReady,
    AnalysisStarted,
    CallStats,
    Event,
    FusedDelta,
    FusedDone,
    FusedFailed,
    FusedStarted,
    PanelConsulted,
    PanelNotConsulted,
    RunDone,
    RunStarted,
    SeatDelta,
    SeatDone,
    SeatFailed,
    ThreadTrimmed,
)
from chat.fusion.judge import judge
from chat.fusion.prompting import LabelledAnswer, label_for
from chat.fusion.request import FusionRequest
from chat.fusion.seats import Seats, Sleep
from chat.fusion.tools import Toolbox
from chat.fusion.writer import build_writer_messages, with_instructions, writer_request
from chat.providers.protocol import ModelClient
from chat.providers.types import ChatRequest, TextDelta

# A run a model consulted over the API ends with the analysis: that model writes the answer.
CONSULTED_NOTE = (
    "The panel was consulted by a model over the API: the analysis went back to it, and it wrote the answer."
)
COMPARE_ONLY_NOTE = "Compare only: the panel's answers side by side, with no judge and no fused answer."
CUT_SHORT_MARK = "\n\n[This response was cut short: its stream ended before the model finished.]"


async def run_fusion(
    request: FusionRequest,
    client: ModelClient,
    *,
    clock: Clock = time.perf_counter,
    toolbox: Toolbox | None = None,
    sleep: Sleep = asyncio.sleep,
) -> AsyncGenerator[Event, None]:
    """Run one fusion turn and say everything that happens, ending with RunDone.

    Failures are events, never exceptions: a failed seat, judge or writer degrades the run and
    RunDone's status and note say how. Closing the generator, or cancelling the task that
    iterates it, cancels and awaits every seat, which closes their streams. `sleep` waits on
    `clock`'s time (the panel's deadline): a test passes its fake clock's.
    """
    started = clock()
    calls: list[CallStats] = []
    request, trimmed = fit_thread(request)
    at = _Setting(client, clock, started, toolbox, sleep)
    stages_of = _consulting if request.auto else _stages
    async with aclosing(stages_of(request, at, trimmed)) as stages:
        async for item in stages:
            if isinstance(item, _Ending):
                totals = run_totals(calls, (clock() - started) * 1000)
                yield RunDone(status=item.status, note=item.note, totals=totals)
                return
            calls.extend(_stats_of(item))
            yield item


@dataclass(frozen=True)
class _Setting:
    """What every stage of one run works with, besides its request."""

    client: ModelClient
    clock: Clock
    started: float
    toolbox: Toolbox | None
    sleep: Sleep

    def seats(self, request: FusionRequest) -> Seats:
        return Seats(
            request, self.client, self.clock, started=self.started, toolbox=self.toolbox, sleep=self.sleep
        )


@dataclass(frozen=True)
class _Ending:
    """How the stages ended; run_fusion turns it into RunDone with the run's totals."""

    status: Literal["done", "degraded", "failed"]
    note: str = ""

    def after(self, summary: str) -> _Ending:
        """This ending with `summary` (what the panel was judged on) said first."""
        if not summary:
            return self
        return _Ending(self.status, f"{summary} {self.note}".strip())


async def _stages(
    request: FusionRequest, at: _Setting, trimmed: ThreadTrimmed | None
) -> AsyncGenerator[Event | _Ending, None]:
    """The run stage by stage: fan-out, judge, write; the last item is always an _Ending. Seats
    still running when the quorum or the deadline lets the judge start go on beside it (late)."""
    compare_only = request.options.compare_only
    yield RunStarted(
        seats=list(request.seats), judge=request.judge, writer=request.writer_model, compare_only=compare_only
    )
    if trimmed is not None:
        yield trimmed
    async with at.seats(request) as seats:
        async with aclosing(seats.until_judgeable()) as fan_out:
            async for event in fan_out:
                yield event
        panel = _Panel(request.seats, seats.judged)
        if compare_only:
            yield panel.ending_of_comparison()
            return
        if len(panel.answered) < 2:
            yield panel.ending_without_fusion()
            return
        async with aclosing(seats.alongside(_judge_and_write(request, at, panel))) as rest:
            async for item in rest:
                if isinstance(item, _Ending):
                    yield item.after(seats.late_summary())
                    return
                yield item


async def _judge_and_write(
    request: FusionRequest, at: _Setting, panel: _Panel
) -> AsyncGenerator[Event | _Ending, None]:
    yield AnalysisStarted(model=request.judge)
    verdict = await judge(at.client, request, panel.answers, panel.label_to_seat, at.clock)
    yield verdict
    if isinstance(verdict, AnalysisFailed):
        # No analysis, no fused answer: a writer without the deliberation would only add one more opinion.
        yield _Ending("degraded", f"The analysis is missing. {verdict.reason} The panel's answers are above.")
        return
    if not request.write_answer:
        yield _Ending("done", CONSULTED_NOTE)
        return

    async with aclosing(_write(request, at.client, verdict, panel, at.clock)) as writing:
        async for item in writing:
            yield item


# --- Auto-fuse: one model answers and may consult the panel ------------------------------------


async def _consulting(
    request: FusionRequest, at: _Setting, trimmed: ThreadTrimmed | None
) -> AsyncGenerator[Event | _Ending, None]:
    """The writer answers the thread with the fusion tool on offer. If it calls the tool, the seats
    answer its query, the judge compares them, and the writer goes on from the result; its text
    from both calls is the run's answer (FusedDelta...FusedDone), the panel's events in between."""
    model, client, clock = request.writer_model, at.client, at.clock
    yield RunStarted(seats=list(request.seats), judge=request.judge, writer=model, auto=True)
    if trimmed is not None:
        yield trimmed
    yield FusedStarted(model=model)
    first = _answering_call(request, client, clock, request.messages, offer=True)
    async with aclosing(_fused_deltas(first)) as deltas:
        async for delta in deltas:
            yield delta
    asked = consult.split_calls(first.tool_calls if first.failure is None else [])
    if not asked.fusion:
        yield PanelNotConsulted(model=model, reason=_why_not_consulted(first))
        fused = _fused_outcome(first)
        yield fused
        yield _answered_alone(fused)
        return

    result: dict[str, object]
    # Said at the end too: the page shows why a model that tried to consult the panel did not.
    declined = ""
    try:
        query = consult.read_query(asked.fusion[0]["arguments"])
    except consult.BadArguments as error:
        declined = f"Its call to the panel could not be run: {error}"
        yield PanelNotConsulted(model=model, reason=declined)
        result = consult.error_result(str(error))
    else:
        yield PanelConsulted(model=model, query=query)
        result = {}
        async with aclosing(_consult_panel(request, at, query, result)) as panel:
            async for event in panel:
                yield event

    messages = [
        *request.messages,
        consult.assistant_message(first.text, first.tool_calls),
        *consult.answers_for(asked.fusion, result),
        # The chatroom's model has no other tools: a call to one is answered, so the request stays valid.
        *(consult.tool_message(call["id"], consult.error_result(NO_SUCH_TOOL)) for call in asked.others),
    ]
    second = _answering_call(request, client, clock, messages, offer=False)
    separator = "\n\n" if first.has_text else ""
    async with aclosing(_fused_deltas(second)) as deltas:
        async for delta in deltas:
            if separator:
                yield FusedDelta(text=separator)
                separator = ""
            yield delta
    fused = _consulted_outcome(first, second)
    yield fused
    if isinstance(fused, FusedFailed):
        consulted = "The answer failed after the panel was consulted"
        after = f"{declined} Then the answer failed" if declined else consulted
        yield _Ending("degraded", f"{after}: {fused.reason}")
        return
    yield _Ending("done", declined)


NO_SUCH_TOOL = "No such tool here: only fusion is offered."


def _answering_call(
    request: FusionRequest,
    client: ModelClient,
    clock: Clock,
    messages: list[dict[str, object]],
    *,
    offer: bool,
) -> ModelCall:
    model = request.writer_model
    chat = ChatRequest(
        model=model,
        messages=with_instructions(messages, request.options.writer_instructions),
        **request.answer_options(),
        tools=[consult.tool_spec()] if offer else None,
    )
    return ModelCall(client, chat, request.catalog.get(model), clock, request.limits)


async def _fused_deltas(call: ModelCall) -> AsyncGenerator[FusedDelta, None]:
    async with aclosing(call.deltas()) as deltas:
        async for delta in deltas:
            if isinstance(delta, TextDelta) and delta.text:
                yield FusedDelta(text=delta.text)


async def _consult_panel(
    request: FusionRequest, at: _Setting, query: str, result: dict[str, object]
) -> AsyncGenerator[Event, None]:
    """The seats answer the query alone (it was written to stand alone) and the judge compares
    them; `result` is filled with what goes back to the model. The panel waits for every seat
    here: the model goes on from the result, so a late answer would have nowhere to go."""
    # Kept answers of an earlier run answered another query: a retry asks the seats afresh.
    options = request.options.model_copy(update={"quorum": None, "deadline_s": None})
    asked = request.model_copy(
        update={
            "messages": [{"role": "user", "content": query}],
            "auto": False,
            "reuse": {},
            "options": options,
        }
    )
    async with at.seats(asked) as seats, aclosing(seats.until_judgeable()) as fan_out:
        async for event in fan_out:
            yield event
    panel = _Panel(asked.seats, seats.outcomes)
    verdict: Analysis | AnalysisFailed | None = None
    if len(panel.answered) >= 2:
        yield AnalysisStarted(model=asked.judge)
        judged = await judge(at.client, asked, panel.answers, panel.label_to_seat, at.clock)
        yield judged
        verdict = judged.analysis if isinstance(judged, AnalysisReady) else judged
    result.update(consult.panel_result(query, asked.seats, seats.outcomes, verdict))


def _why_not_consulted(call: ModelCall) -> str:
    if call.failure is not None:
        return "It failed before deciding."
    return "It answered without consulting the panel."


def _answered_alone(fused: FusedDone | FusedFailed) -> _Ending:
    if isinstance(fused, FusedFailed):
        return _Ending("failed", f"The answer failed: {fused.reason}")
    if not fused.complete:
        return _Ending("degraded", "The answer may be cut short: its stream ended before the model finished.")
    # No note: the run's page says "Answered without consulting the panel" beside the answer.
    return _Ending("done")


def _consulted_outcome(first: ModelCall, second: ModelCall) -> FusedDone | FusedFailed:
    text = "\n\n".join(part for part in (first.text, second.text) if part.strip())
    stats = merged_stats([first, second])
    reason = second.why_unusable()
    if reason is not None:
        return FusedFailed(reason=reason, partial_text=text, stats=stats)
    return FusedDone(text=text, stats=stats, complete=second.complete)


# --- the panel's outcome ---------------------------------------------------------------------


class _Panel:
    """The seats' outcomes, and the labels under which the judge and the writer read the answers."""

    def __init__(self, models: Sequence[str], outcomes: Sequence[SeatDone | SeatFailed]) -> None:
        ordered = sorted(outcomes, key=lambda outcome: outcome.seat)
        self.models = models
        self.answered = [outcome for outcome in ordered if isinstance(outcome, SeatDone)]
        self.failed = [outcome for outcome in ordered if isinstance(outcome, SeatFailed)]
        # Labels follow seat order over the seats that answered, so they read A, B, C without gaps.
        self.label_to_seat = {label_for(index): done.seat for index, done in enumerate(self.answered)}
        self.seat_labels = {seat: label for label, seat in self.label_to_seat.items()}
        self.answers: list[LabelledAnswer] = [
            (label_for(index), _as_read(done)) for index, done in enumerate(self.answered)
        ]

    def ending_without_fusion(self) -> _Ending:
        if not self.answered:
            return _Ending("failed", f"Every seat failed, so there is nothing to judge: {self.failures()}.")
        # One answer leaves nothing to compare: judging it alone would dress one opinion up as a
        # deliberation, so the run stops here and the answer stands as it is.
        only = self.answered[0]
        if not self.failed:
            # A panel of one (an API request may ask for it, as OpenRouter's plugin allows).
            return _Ending(
                "degraded",
                f"The panel had one seat, {self.seat_name(only.seat)}: its answer above is the result, "
                "with nothing to compare it with.",
            )
        return _Ending(
            "degraded",
            f"Only {self.seat_name(only.seat)} answered, so there was nothing to compare: its answer above "
            f"is the result, without an analysis or a fused answer. The others failed: {self.failures()}.",
        )

    def ending_of_comparison(self) -> _Ending:
        if not self.answered:
            return self.ending_without_fusion()
        failed = f" {self.failures()}." if self.failed else ""
        return _Ending("done", f"{COMPARE_ONLY_NOTE}{failed}")

    def ending_after_writing(self, fused: FusedDone | FusedFailed) -> _Ending:
        if isinstance(fused, FusedFailed):
            return _Ending(
                "degraded",
                f"The fused answer failed: {fused.reason} The analysis and the panel's answers are above.",
            )
        if not fused.complete:
            return _Ending(
                "degraded", "The fused answer may be cut short: its stream ended before the model finished."
            )
        if self.failed:
            return _Ending(
                "done", f"Fused from {len(self.answered)} of {len(self.models)} answers; {self.failures()}."
            )
        return _Ending("done")

    def failures(self) -> str:
        return "; ".join(f"{self.seat_name(f.seat)}: {f.reason.rstrip('.')}" for f in self.failed)

    def seat_name(self, seat: int) -> str:
        # People count seats from one; events count from zero.
        return f"seat {seat + 1} ({self.models[seat]})"


def _as_read(done: SeatDone) -> str:
    # The judge should know an answer stops mid-sentence because its stream did, not by choice.
    return done.text if done.complete else done.text + CUT_SHORT_MARK


# --- the fused answer ------------------------------------------------------------------------


async def _write(
    request: FusionRequest, client: ModelClient, verdict: AnalysisReady, panel: _Panel, clock: Clock
) -> AsyncGenerator[Event | _Ending, None]:
    yield FusedStarted(model=request.writer_model)
    call = ModelCall(
        client,
        _writer_chat(request, verdict.analysis, panel),
        request.catalog.get(request.writer_model),
        clock,
        request.limits,
    )
    async with aclosing(call.deltas()) as deltas:
        async for delta in deltas:
            # The fused answer has no reasoning pane: only its text is said.
            if isinstance(delta, TextDelta) and delta.text:
                yield FusedDelta(text=delta.text)
    fused = _fused_outcome(call)
    yield fused
    yield panel.ending_after_writing(fused)


def _writer_chat(request: FusionRequest, analysis: Analysis, panel: _Panel) -> ChatRequest:
    messages = build_writer_messages(
        request.question,
        request.messages[:-1],
        analysis,
        panel.answers,
        panel.seat_labels,
        request.options.writer_instructions,
    )
    return writer_request(request, messages)


def _fused_outcome(call: ModelCall) -> FusedDone | FusedFailed:
    reason = call.why_unusable()
    if reason is not None:
        return FusedFailed(reason=reason, partial_text=call.text, stats=call.stats())
    return FusedDone(text=call.text, stats=call.stats(), complete=call.complete)


def _stats_of(event: Event) -> list[CallStats]:
    """The calls an event reports on, so the run's totals count every one exactly once."""
    found: list[CallStats | None]
    if isinstance(event, SeatDelta | FusedDelta):
        return []  # nearly every event: checked first
    if isinstance(event, AnalysisReady | AnalysisFailed):
        found = [event.stats, event.repair_stats]
    elif isinstance(event, SeatDone | SeatFailed) and event.reused:
        found = []  # paid for by the run it came from
    elif isinstance(event, SeatDone | SeatFailed | FusedDone | FusedFailed):
        found = [event.stats]
    else:
        found = []
    return [stats for stats in found if stats is not None]
