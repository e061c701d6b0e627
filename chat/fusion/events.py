"""Everything the pipeline says while it runs, as typed, serialisable events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chat.fusion.analysis import Analysis


class CallStats(BaseModel):
    """What one model call cost and how long it took."""

    model_config = ConfigDict(extra="forbid")

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    ttft_ms: float | None = None
    duration_ms: float = 0.0


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunStarted(_Event):
    type: Literal["run.started"] = "run.started"
    seats: list[str]
    judge: str
    writer: str
    # Auto-fuse: the writer answers the thread itself and consults the panel only if it decides to.
    auto: bool = False
    # Compare only: the seats answer side by side and the run ends there, with no judge or writer.
    compare_only: bool = False


class PanelConsulted(_Event):
    """Auto-fuse: the answering model called the fusion tool; the panel answers `query` (which it
    wrote to stand alone: the panel does not see the conversation)."""

    type: Literal["panel.consulted"] = "panel.consulted"
    model: str
    query: str


class PanelNotConsulted(_Event):
    """Auto-fuse: the answering model answered without the panel; `reason` says why, for the run."""

    type: Literal["panel.not_consulted"] = "panel.not_consulted"
    model: str
    reason: str


class ThreadTrimmed(_Event):
    """The oldest turns were left out so that the thread fits the smallest context window."""

    type: Literal["thread.trimmed"] = "thread.trimmed"
    dropped_turns: int
    context_length: int
    model: str


class SeatStarted(_Event):
    type: Literal["seat.started"] = "seat.started"
    seat: int
    model: str


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    url: str


class SeatToolCall(_Event):
    """A seat searched the web or read a page; `ok` False when the tool refused or failed."""

    type: Literal["seat.tool"] = "seat.tool"
    seat: int
    tool: Literal["web_search", "web_fetch"]
    argument: str
    ok: bool
    detail: str = ""


class SeatDelta(_Event):
    type: Literal["seat.delta"] = "seat.delta"
    seat: int
    text: str


class SeatReasoningDelta(_Event):
    type: Literal["seat.reasoning"] = "seat.reasoning"
    seat: int
    text: str


class SeatDone(_Event):
    type: Literal["seat.done"] = "seat.done"
    seat: int
    text: str
    stats: CallStats
    # False when the stream closed without [DONE]: the answer may be cut short.
    complete: bool = True
    # Kept from an earlier run of the turn (a retry); its call is not counted again.
    reused: bool = False
    # What the seat read on the web, to list under its answer.
    sources: list[Source] = []


class SeatFailed(_Event):
    type: Literal["seat.failed"] = "seat.failed"
    seat: int
    reason: str
    # Whatever streamed before the failure; it is never thrown away.
    partial_text: str = ""
    stats: CallStats
    # What kind of failure ("stall", "rate_limited", "auth"...), when the provider layer knew;
    # LATE_STOPPED for a seat stopped because the panel was judged without it.
    kind: str | None = None
    # Failed in the run a re-judge came from: not asked again, not counted again.
    reused: bool = False


LATE_STOPPED = "late_stopped"


class PanelJudged(_Event):
    """The panel is judged before every seat answered: `quorum` seats had answered, or the
    deadline passed with at least two. The `late` seats go on (their answers kept, not judged)
    or are stopped, as the panel says; `at_ms` is the time since the run started."""

    type: Literal["panel.judged"] = "panel.judged"
    judged: list[int]
    late: list[int]
    cause: Literal["quorum", "deadline"]
    at_ms: float


class AnalysisStarted(_Event):
    type: Literal["analysis.started"] = "analysis.started"
    model: str


class AnalysisReady(_Event):
    type: Literal["analysis.ready"] = "analysis.ready"
    analysis: Analysis
    stats: CallStats
    # The second call, when the judge's first reply was unusable and it was asked to repair it.
    repair_stats: CallStats | None = None


# Why the judge gave no analysis, in OpenRouter's terms (the API reports it as failure_reason).
JudgeFailure = Literal["upstream_error", "empty_completion", "not_valid_json", "schema_mismatch"]


class AnalysisFailed(_Event):
    type: Literal["analysis.failed"] = "analysis.failed"
    reason: str
    kind: JudgeFailure | None = None
    stats: CallStats | None = None
    repair_stats: CallStats | None = None


class FusedStarted(_Event):
    type: Literal["fused.started"] = "fused.started"
    model: str


class FusedDelta(_Event):
    type: Literal["fused.delta"] = "fused.delta"
    text: str


class FusedDone(_Event):
    type: Literal["fused.done"] = "fused.done"
    text: str
    stats: CallStats
    complete: bool = True


class FusedFailed(_Event):
    type: Literal["fused.failed"] = "fused.failed"
    reason: str
    partial_text: str = ""
    stats: CallStats | None = None


class RunTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # None when no call reported a cost and no catalog price was known.
    cost: float | None = None
    duration_ms: float = 0.0


class RunDone(_Event):
    """The last event of every run that was not cancelled.

    `status` is "done" when a fused answer was written, "degraded" when the run ended
    without one or without an analysis (`note` says why), "failed" when no seat answered.
    """

    type: Literal["run.done"] = "run.done"
    status: Literal["done", "degraded", "failed"]
    note: str = ""
    totals: RunTotals


Event = Annotated[
    RunStarted
    | PanelConsulted
    | PanelNotConsulted
    | ThreadTrimmed
    | SeatStarted
    | SeatToolCall
    | SeatDelta
    | SeatReasoningDelta
    | SeatDone
    | SeatFailed
    | PanelJudged
    | AnalysisStarted
    | AnalysisReady
    | AnalysisFailed
    | FusedStarted
    | FusedDelta
    | FusedDone
    | FusedFailed
    | RunDone,
    Field(discriminator="type"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
