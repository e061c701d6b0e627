"""A fusion run as its callers report it (the API, the MCP server): the pipeline's events folded
into the `fusion` object, the answer's content, the usage with its per-call breakdown, and why
there is no answer when there is none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chat.fusion.analysis import Analysis
from chat.fusion.consult import analysis_by_model
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
    PanelJudged,
    RunDone,
    RunStarted,
    SeatDone,
    SeatFailed,
    SeatStarted,
)
from chat.models import Run
from chat.providers.errors import KIND_STATUS

STOPPED_NOTE = "The run was stopped before it ended (in the chatroom, or the server shut down)."
# How a run that ended without the pipeline's last word (stopped, interrupted, never begun) is
# reported, by its saved status.
ENDED_EARLY = {
    "stopped": ("stopped", 503),
    "interrupted": ("interrupted", 503),
    "failed": ("run_failed", 502),
}


@dataclass
class Seat:
    model: str
    status: str = "waiting"  # waiting | running | done | failed
    text: str = ""
    error: str = ""
    kind: str | None = None
    stats: CallStats | None = None
    sources: list[dict[str, str]] = field(default_factory=list)
    # Still running when the panel was judged early: its answer (or failure) is kept, not judged.
    late: bool = False


class Outcome:
    """Everything a caller is told about one run, updated event by event."""

    def __init__(self, seats: list[str], judge: str, writer: str) -> None:
        self.seats = [Seat(model) for model in seats]
        self.judge = judge
        self.writer = writer
        self.analysis: Analysis | None = None
        self.analysis_failure: AnalysisFailed | None = None
        self.judge_calls: list[CallStats] = []
        self.fused: list[str] = []
        self.fused_stats: CallStats | None = None
        self.fused_failure: str | None = None
        self.done: RunDone | None = None
        # Without RunDone: the run's saved status and note, read once it ended (ended_early).
        self.early_end: tuple[str, str] | None = None
        # Auto-fuse: the writer answers, and consulted the panel with this query (None: it did not).
        self.auto = False
        self.consult_query: str | None = None
        # Compare only: the answers side by side, no judge, no writer.
        self.compare_only = False
        # Set when the panel was judged before every seat answered (its quorum or deadline).
        self.judged: PanelJudged | None = None

    def apply(self, event: Event) -> None:
        match event:
            case RunStarted(auto=auto, compare_only=compare_only):
                self.auto, self.compare_only = auto, compare_only
            case PanelJudged(late=late):
                self.judged = event
                for seat in late:
                    self.seats[seat].late = True
            case PanelConsulted(query=query):
                self.consult_query = query
            case SeatStarted(seat=seat):
                self.seats[seat].status = "running"
            case SeatDone(seat=seat, text=text, stats=stats, sources=sources, reused=reused):
                found = self.seats[seat]
                found.status, found.text = "done", text
                found.stats = None if reused else stats
                found.sources = [source.model_dump() for source in sources]
            case SeatFailed(seat=seat, reason=reason, stats=stats, kind=kind, partial_text=partial):
                found = self.seats[seat]
                found.status, found.error, found.kind = "failed", reason, kind
                found.stats, found.text = stats, partial
            case AnalysisReady(analysis=analysis, stats=stats, repair_stats=repair):
                self.analysis = analysis
                self.judge_calls = [call for call in (stats, repair) if call is not None]
            case AnalysisFailed(stats=stats, repair_stats=repair):
                self.analysis_failure = event
                self.judge_calls = [call for call in (stats, repair) if call is not None]
            case FusedDelta(text=text):
                self.fused.append(text)
            case FusedDone(text=text, stats=stats):
                self.fused, self.fused_stats = [text], stats
            case FusedFailed(reason=reason, stats=stats):
                self.fused_failure, self.fused_stats = reason, stats
            case RunDone():
                self.done = event
            case _:
                pass

    # --- what the caller reads -------------------------------------------------------------

    @property
    def fused_text(self) -> str:
        return "".join(self.fused)

    @property
    def answered(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.status == "done"]

    @property
    def failed(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.status == "failed"]

    @property
    def status(self) -> str:
        """ok | degraded | error, as OpenRouter's fusion result says it. A late seat that failed
        or was stopped degrades nothing: the answer never waited for it."""
        if self.done is None or self.done.status == "failed":
            return "error"
        if self.done.status == "degraded" or any(not seat.late for seat in self.failed):
            return "degraded"
        return "ok"

    @property
    def run_status(self) -> str:
        """The run's status as it is saved (Run.Status): done, degraded or failed, or how it ended
        without the pipeline's last word (stopped, interrupted)."""
        if self.done is not None:
            return self.done.status
        return self.early_end[0] if self.early_end else "stopped"

    @property
    def failure_reason(self) -> str | None:
        """OpenRouter's typed reason (all_panels_failed, rate_limited, judge_...), or ours
        (writer_failed, single_response, stopped); None for a run that went well."""
        if self.done is None:
            status = self.early_end[0] if self.early_end else "stopped"
            return ENDED_EARLY.get(status, ("stopped", 503))[0]
        if self.done.status == "failed" and self.auto and self.consult_query is None:
            return "writer_failed"  # an Auto-fuse writer that failed before it consulted anyone
        if self.done.status == "failed":
            kinds = {seat.kind for seat in self.failed}
            if kinds == {"rate_limited"}:
                return "rate_limited"
            if kinds == {"credits"}:
                return "insufficient_credits"
            return "all_panels_failed"
        if self.analysis_failure is not None:
            return judge_failure_reason(self.analysis_failure)
        if len(self.answered) == 1 and self.analysis is None:
            return "single_response"
        if self.fused_failure is not None:
            return "writer_failed"
        if self.done.status == "degraded":
            return "writer_incomplete"
        return None

    @property
    def has_fused_answer(self) -> bool:
        # An Auto-fuse writer's answer is the answer, with or without the panel's analysis.
        written = self.fused_failure is None and bool(self.fused)
        return written and (self.analysis is not None or self.auto)

    def content(self) -> str:
        """The answer: the fused one, or without it (the judge or the writer failed) the panel's
        answers, each under its model's name, as the chatroom shows them."""
        if self.has_fused_answer:
            return self.fused_text
        return "\n\n".join(f"## {seat.model}\n\n{seat.text}" for seat in self.answered)

    def ended_early(self, status: str, note: str) -> None:
        """The run ended without the pipeline's last word: its saved status and note say how."""
        self.early_end = (status, note)

    @property
    def note(self) -> str:
        if self.done is not None:
            return self.done.note
        return self.early_end[1] if self.early_end and self.early_end[1] else STOPPED_NOTE

    @property
    def error_code(self) -> str:
        """The machine-readable reason of a run without any answer (every seat failed, or it ended early)."""
        return self.failure_reason or "all_panels_failed"

    @property
    def error_status(self) -> int:
        """The HTTP status that reason stands for."""
        statuses = {"rate_limited": 429, "insufficient_credits": 402}
        statuses |= dict(ENDED_EARLY.values())
        return statuses.get(self.error_code, 502)

    def fusion(self, *, run_id: int, url: str, include_responses: bool) -> dict[str, Any]:
        """The response's top-level `fusion` object, shaped like OpenRouter's fusion tool result."""
        show_answers = include_responses or not self.has_fused_answer
        return {
            "status": self.status,
            "analysis": self.analysis_object(),
            "responses": [
                {
                    "model": seat.model,
                    **({"content": seat.text} if show_answers else {}),
                    **({"late": True} if seat.late else {}),
                }
                for seat in self.answered
            ],
            "failed_models": [
                {
                    "model": seat.model,
                    "error": seat.error,
                    "status_code": KIND_STATUS.get(seat.kind or ""),
                    **({"late": True} if seat.late else {}),
                }
                for seat in self.failed
            ],
            "judged_on": self.judged_on(),
            "failure_reason": self.failure_reason,
            "note": self.note,
            "sources": list(
                {source["url"]: source for seat in self.seats for source in seat.sources}.values()
            ),
            "judge": self.judge,
            "writer": self.writer,
            **(
                {"auto_fuse": {"consulted": self.consult_query is not None, "query": self.consult_query}}
                if self.auto
                else {}
            ),
            **({"compare_only": True} if self.compare_only else {}),
            "run_id": run_id,
            "url": url,
        }

    def judged_on(self) -> dict[str, Any] | None:
        """What the panel was judged on when it was judged before every seat answered: the seats
        judged and the late ones, by model, why ("quorum" or "deadline") and when (ms into the
        run); None when the judge waited for every seat."""
        if self.judged is None:
            return None
        return {
            "seats": [self._model_of(seat) for seat in self.judged.judged],
            "late": [self._model_of(seat) for seat in self.judged.late],
            "cause": self.judged.cause,
            "at_ms": round(self.judged.at_ms),
        }

    def analysis_object(self) -> dict[str, Any] | None:
        if self.analysis is None:
            return None
        return analysis_by_model(self.analysis, self._model_of)

    def _model_of(self, seat: int) -> str:
        return self.seats[seat].model if 0 <= seat < len(self.seats) else f"seat {seat + 1}"

    def usage(self) -> dict[str, Any]:
        """The run's totals (what the run saves) and each call that made them."""
        calls = [("panel", seat.stats) for seat in self.seats if seat.stats is not None]
        calls += [("judge", stats) for stats in self.judge_calls]
        if self.fused_stats is not None:
            calls.append(("writer", self.fused_stats))
        totals = self.done.totals if self.done is not None else None
        prompt = totals.prompt_tokens if totals else sum(stats.prompt_tokens for _, stats in calls)
        completion = (
            totals.completion_tokens if totals else sum(stats.completion_tokens for _, stats in calls)
        )
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cost": totals.cost if totals else None,
            "calls": [
                {
                    "role": role,
                    "model": stats.model,
                    "prompt_tokens": stats.prompt_tokens,
                    "completion_tokens": stats.completion_tokens,
                    "cost": stats.cost,
                }
                for role, stats in calls
            ],
        }


def judge_failure_reason(failed: AnalysisFailed) -> str:
    """OpenRouter's judge_* failure reason for an analysis that failed."""
    return f"judge_{failed.kind or 'upstream_error'}"


async def read_early_end(outcome: Outcome, run_id: int) -> None:
    """A run that ended without RunDone (stopped in the chatroom, its keys unreadable, its
    worker lost) says why in its saved note."""
    if outcome.done is None:
        ended = await Run.objects.filter(pk=run_id).values("status", "note").afirst()
        if ended is not None:
            outcome.ended_early(ended["status"], ended["note"])


def progress_step(event: Event) -> str | None:
    """A step of the run in words, for a caller following its progress, or None for what is
    not a step (deltas, the end)."""
    match event:
        case SeatStarted(seat=seat, model=model):
            return f"seat {seat + 1} ({model}) started"
        case SeatDone(seat=seat):
            return f"seat {seat + 1} answered"
        case SeatFailed(seat=seat):
            return f"seat {seat + 1} failed"
        case PanelJudged(judged=judged, late=late, cause=cause):
            waiting = ", ".join(f"seat {seat + 1}" for seat in late)
            return f"judged on {len(judged)} seats at the {cause}; late: {waiting}"
        case AnalysisStarted(model=model):
            return f"the judge ({model}) is comparing the answers"
        case AnalysisReady() | AnalysisFailed():
            return "the analysis is done"
        case FusedStarted(model=model):
            return f"{model} is writing the answer"
    return None
