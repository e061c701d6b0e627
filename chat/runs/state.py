"""A run's state in memory while it executes: pipeline events folded into its rows, and what changed.

It renders nothing and does no I/O: chat.runs.frames turns the changes into HTML, and the runner
(chat.runs.execution) decides when the changed fields are saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from django.utils import timezone

from chat.fusion.events import (
    LATE_STOPPED,
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
    PanelNotConsulted,
    RunDone,
    RunStarted,
    SeatDelta,
    SeatDone,
    SeatFailed,
    SeatReasoningDelta,
    SeatStarted,
    SeatToolCall,
    ThreadTrimmed,
)
from chat.models import Run, SeatAnswer
from chat.runs.protocol import FUSED, Column

INCOMPLETE_NOTE = "The stream ended before the model finished: the answer may be cut short."

Part = Literal[
    "progress",
    "consult",
    "panel",
    "seat-header",
    "tool",
    "text",
    "reasoning",
    "seat",
    "analysis",
    "fused-header",
    "fused",
    "run",
]


@dataclass(frozen=True)
class Change:
    """One thing a viewer must be shown: a part of the run's page, for a column where it has one.

    `text` carries a delta ("text", "reasoning"); `step` a tool call ("tool").
    """

    part: Part
    column: Column | None = None
    text: str = ""
    step: dict[str, Any] = field(default_factory=dict)


def _stats_fields(stats: CallStats) -> dict[str, Any]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "cost": stats.cost,
        "ttft_ms": stats.ttft_ms,
        "duration_ms": stats.duration_ms,
    }


class RunState:
    """The Run and its SeatAnswer rows, kept current as the pipeline's events arrive.

    Fields changed since the last `take_dirty()` are remembered, so a save writes only those.
    """

    def __init__(self, run: Run, answers: list[SeatAnswer]) -> None:
        self.run = run
        self.answers = answers
        self._dirty_run: set[str] = set()
        self._dirty_answers: dict[int, set[str]] = {}
        # Auto-fuse: the model answers without the panel (said until the run's note says it).
        self.declined = False

    def apply(self, event: Event) -> list[Change]:
        """Fold one event in; return what the viewers must be shown because of it."""
        match event:
            # The deltas first: nearly every event is one, and each case is an isinstance check.
            case SeatDelta(seat=seat, text=text):
                self.answers[seat].text += text
                self._mark_answer(seat, "text")
                return [Change("text", seat, text=text)]
            case SeatReasoningDelta(seat=seat, text=text):
                self.answers[seat].reasoning += text
                self._mark_answer(seat, "reasoning")
                return [Change("reasoning", seat, text=text)]
            case RunStarted():
                return []
            case PanelConsulted(query=query):
                # The panel's stages come into the run: its columns, the analysis, the pills.
                self._set_run(consult_query=query, stage=Run.Stage.PANEL)
                return [
                    Change("progress"),
                    Change("consult"),
                    Change("panel"),
                    Change("analysis"),
                    Change("fused-header", FUSED),
                ]
            case PanelNotConsulted():
                self.declined = True
                return [Change("consult")]
            case ThreadTrimmed(dropped_turns=dropped, context_length=length, model=model):
                turns = "turn was" if dropped == 1 else "turns were"
                self._set_run(
                    thread_note=f"The {dropped} oldest {turns} left out so the thread fits {model}'s "
                    f"context window of {length:,} tokens."
                )
                return [Change("progress")]
            case SeatStarted(seat=seat):
                self._set_answer(seat, status=SeatAnswer.Status.WRITING)
                return [Change("seat-header", seat)]
            case SeatToolCall(seat=seat, tool=tool, argument=argument, ok=ok, detail=detail):
                step = {"tool": tool, "argument": argument, "ok": ok, "detail": detail}
                self._set_answer(seat, tool_activity=[*self.answers[seat].tool_activity, step])
                return [Change("tool", seat, step=step)]
            case SeatDone(seat=seat, text=text, stats=stats, complete=complete, sources=sources):
                status = SeatAnswer.Status.DONE if complete else SeatAnswer.Status.INCOMPLETE
                if sources:
                    self._set_answer(seat, sources=[source.model_dump() for source in sources])
                error = "" if complete else INCOMPLETE_NOTE
                self._set_answer(seat, status=status, text=text, error=error, **_stats_fields(stats))
                return self._seat_ended(seat)
            case SeatFailed(seat=seat, reason=reason, partial_text=partial, stats=stats, kind=kind):
                text = partial or self.answers[seat].text
                # A seat stopped because the panel was judged without it did not fail: the
                # panel's terms stopped it, and a retry may ask it again like any stopped seat.
                status = SeatAnswer.Status.STOPPED if kind == LATE_STOPPED else SeatAnswer.Status.FAILED
                self._set_answer(seat, status=status, error=reason, text=text, **_stats_fields(stats))
                return self._seat_ended(seat)
            case PanelJudged(late=late, at_ms=at_ms):
                self._set_run(judged_at_ms=at_ms)
                for seat in late:
                    self._set_answer(seat, late=True)
                return [Change("progress"), *(Change("seat-header", seat) for seat in late)]
            case AnalysisStarted():
                self._set_run(stage=Run.Stage.ANALYSIS)
                return [Change("progress"), Change("analysis")]
            case AnalysisReady(analysis=analysis, stats=stats):
                self._set_run(analysis=analysis.model_dump(), analysis_stats=stats.model_dump())
                return [Change("analysis")]
            case AnalysisFailed(reason=reason, stats=stats):
                self._set_run(analysis_error=reason, analysis_stats=stats.model_dump() if stats else None)
                return [Change("analysis")]
            case FusedStarted():
                self._set_run(stage=Run.Stage.FUSED)
                return [Change("progress"), Change("fused-header", FUSED)]
            case FusedDelta(text=text):
                self.run.fused_text += text
                self._dirty_run.add("fused_text")
                if self.run.stage != Run.Stage.FUSED:
                    # An Auto-fuse model goes on from the panel's result: the answer's stage again.
                    self._set_run(stage=Run.Stage.FUSED)
                    return [
                        Change("progress"),
                        Change("consult"),
                        Change("fused-header", FUSED),
                        Change("text", FUSED, text=text),
                    ]
                return [Change("text", FUSED, text=text)]
            case FusedDone(text=text, stats=stats):
                self._set_run(fused_text=text, fused_stats=stats.model_dump())
                return [Change("fused", FUSED)]
            case FusedFailed(reason=reason, partial_text=partial, stats=stats):
                self._set_run(
                    fused_error=reason,
                    fused_text=partial or self.run.fused_text,
                    fused_stats=stats.model_dump() if stats else None,
                )
                return [Change("fused", FUSED)]
            case RunDone(status=status, note=note, totals=totals):
                self.end(
                    Run.Status(status),
                    note=note,
                    prompt_tokens=totals.prompt_tokens,
                    completion_tokens=totals.completion_tokens,
                    cost=totals.cost,
                    duration_ms=totals.duration_ms,
                )
                return [Change("run")]
        return []

    def end(self, status: Run.Status, *, note: str = "", **totals: Any) -> None:
        """End the run through the model's transition (Run.end), with the run's totals."""
        run_values, answer_values = self.run.end(status, note=note, answers=self.answers)
        for seat, values in answer_values.items():
            self._dirty_answers.setdefault(seat, set()).update(values)
        self._dirty_run.update(run_values)
        self._set_run(**totals)

    def only_late_seats_left(self) -> bool:
        """Whether all the run still does is stream late seats: the panel was judged early and the
        fused answer is complete. Stopping it then ends it done, the late seats stopped."""
        run = self.run
        if run.judged_at_ms is None or run.fused_stats is None or run.fused_error:
            return False
        unfinished = [answer for answer in self.answers if answer.status in SeatAnswer.UNFINISHED]
        return bool(unfinished) and all(answer.late for answer in unfinished)

    def unrendered(self) -> list[tuple[Column, str]]:
        """The columns whose text is final but not rendered yet, with that text."""
        columns: list[tuple[Column, str]] = [
            (answer.index, answer.text)
            for answer in self.answers
            if answer.status not in SeatAnswer.UNFINISHED and answer.text and not answer.html
        ]
        run = self.run
        fused_final = not run.is_running or run.fused_stats is not None or bool(run.fused_error)
        if fused_final and run.fused_text and not run.fused_html:
            columns.append((FUSED, run.fused_text))
        return columns

    def set_html(self, column: Column, html: str) -> None:
        """Keep a final text's rendered HTML, saved with the next flush."""
        if column == FUSED:
            self._set_run(fused_html=html)
        else:
            assert isinstance(column, int)
            self._set_answer(column, html=html)

    def beat(self) -> None:
        """Say the run is alive: saved with the next flush, watched by the interrupted-run sweep."""
        self._set_run(heartbeat_at=timezone.now())

    def _set_answer(self, seat: int, **values: Any) -> None:
        answer = self.answers[seat]
        for name, value in values.items():
            setattr(answer, name, value)
        self._dirty_answers.setdefault(seat, set()).update(values)

    def _mark_answer(self, seat: int, name: str) -> None:
        self._dirty_answers.setdefault(seat, set()).add(name)

    def _seat_ended(self, seat: int) -> list[Change]:
        # A late seat's end changes what the line above the analysis says of it (chat.runs.judged).
        if self.answers[seat].late:
            return [Change("seat", seat), Change("analysis")]
        return [Change("seat", seat)]

    def _set_run(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self.run, name, value)
        self._dirty_run.update(values)

    def take_dirty(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run's changed fields, and the changed answers' current values, as plain values to
        save. Each changed answer carries every field changed in any of them (one UPDATE writes
        the same columns for all its rows; these objects hold every field's current value)."""
        run_values = {name: getattr(self.run, name) for name in self._dirty_run}
        names = set().union(*self._dirty_answers.values())
        answer_values = [
            {"pk": self.answers[seat].pk, **{name: getattr(self.answers[seat], name) for name in names}}
            for seat in self._dirty_answers
        ]
        self._dirty_run = set()
        self._dirty_answers = {}
        return run_values, answer_values
