"""A run's state in memory while it streams, and the HTML frames that show it in the browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

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
from chat.rendering import StreamingMarkdown

FUSED = "fused"
Column = int | str  # a seat's index, or FUSED


@dataclass
class LiveColumn:
    """Text of one column that has arrived, and how much of it the browser has been sent."""

    markdown: StreamingMarkdown = field(default_factory=StreamingMarkdown)
    unsent: list[str] = field(default_factory=list)
    unsent_reasoning: list[str] = field(default_factory=list)
    framed_once: bool = False
    # Once its final frame is made the column shows its saved text, not the streamed blocks.
    finished: bool = False

    @property
    def blocks_html(self) -> str:
        return "".join(self.markdown.blocks)


def _stats_fields(stats: CallStats) -> dict[str, Any]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "cost": stats.cost,
        "ttft_ms": stats.ttft_ms,
        "duration_ms": stats.duration_ms,
    }


class LiveRun:
    """Folds pipeline events into the Run and SeatAnswer rows, and renders frames for viewers.

    It does no I/O: the runner decides when rows are saved and frames are published. Rows
    changed since the last save are listed by `take_dirty()`.
    """

    def __init__(self, run: Run, answers: list[SeatAnswer]) -> None:
        self.run = run
        self.answers = answers
        self.columns: dict[Column, LiveColumn] = {i: LiveColumn() for i in range(len(answers))}
        self.columns[FUSED] = LiveColumn()
        self._dirty_run: set[str] = set()
        self._dirty_answers: dict[int, set[str]] = {}
        # The whole finished run, rendered: its last event's frame and its final snapshot show
        # the same thing, and rendering every answer's markdown twice would delay the end.
        self._finished_html: str | None = None

    # -- folding events ------------------------------------------------------------------

    def apply(self, event: Event) -> list[str]:
        """Fold one event in; return the frames that must reach the browser now.

        Text deltas return nothing (they wait for the next tick of the frame clock) except
        the first one of a column, which is sent at once so the first token shows at once.
        """
        match event:
            case RunStarted():
                return []
            case ThreadTrimmed(dropped_turns=dropped, context_length=length, model=model):
                turns = "turn was" if dropped == 1 else "turns were"
                self._set_run(
                    thread_note=f"The {dropped} oldest {turns} left out so the thread fits {model}'s "
                    f"context window of {length:,} tokens."
                )
                return [self.progress_frame()]
            case SeatStarted(seat=seat):
                self._set_answer(seat, status=SeatAnswer.Status.WRITING)
                return [self.seat_header_frame(seat)]
            case SeatToolCall(seat=seat, tool=tool, argument=argument, ok=ok, detail=detail):
                step = {"tool": tool, "argument": argument, "ok": ok, "detail": detail}
                answer = self.answers[seat]
                self._set_answer(seat, tool_activity=[*answer.tool_activity, step])
                return [self.tool_frame(seat, step)]
            case SeatDelta(seat=seat, text=text):
                answer = self.answers[seat]
                answer.text += text
                self._mark_answer(seat, "text")
                return self._buffer(seat, text)
            case SeatReasoningDelta(seat=seat, text=text):
                self.answers[seat].reasoning += text
                self._mark_answer(seat, "reasoning")
                self.columns[seat].unsent_reasoning.append(text)
                return []
            case SeatDone(seat=seat, text=text, stats=stats, complete=complete, sources=sources):
                status = SeatAnswer.Status.DONE if complete else SeatAnswer.Status.INCOMPLETE
                error = (
                    ""
                    if complete
                    else "The stream ended before the model finished: the answer may be cut short."
                )
                if sources:
                    self._set_answer(seat, sources=[source.model_dump() for source in sources])
                self._set_answer(seat, status=status, text=text, error=error, **_stats_fields(stats))
                return self._final(seat, self.seat_final_frame(seat))
            case SeatFailed(seat=seat, reason=reason, partial_text=partial, stats=stats):
                text = partial or self.answers[seat].text
                self._set_answer(
                    seat, status=SeatAnswer.Status.FAILED, error=reason, text=text, **_stats_fields(stats)
                )
                return self._final(seat, self.seat_final_frame(seat))
            case AnalysisStarted():
                self._set_run(stage=Run.Stage.ANALYSIS)
                return [self.progress_frame(), self.analysis_frame()]
            case AnalysisReady(analysis=analysis, stats=stats):
                self._set_run(analysis=analysis.model_dump(), analysis_stats=stats.model_dump())
                return [self.analysis_frame()]
            case AnalysisFailed(reason=reason, stats=stats):
                self._set_run(analysis_error=reason, analysis_stats=stats.model_dump() if stats else None)
                return [self.analysis_frame()]
            case FusedStarted():
                self._set_run(stage=Run.Stage.FUSED)
                return [self.progress_frame(), self.fused_header_frame()]
            case FusedDelta(text=text):
                self.run.fused_text += text
                self._dirty_run.add("fused_text")
                return self._buffer(FUSED, text)
            case FusedDone(text=text, stats=stats):
                self._set_run(fused_text=text, fused_stats=stats.model_dump())
                return self._final(FUSED, self.fused_final_frame())
            case FusedFailed(reason=reason, partial_text=partial, stats=stats):
                self._set_run(
                    fused_error=reason,
                    fused_text=partial or self.run.fused_text,
                    fused_stats=stats.model_dump() if stats else None,
                )
                return self._final(FUSED, self.fused_final_frame())
            case RunDone(status=status, note=note, totals=totals):
                self.finish(
                    Run.Status(status),
                    note=note,
                    prompt_tokens=totals.prompt_tokens,
                    completion_tokens=totals.completion_tokens,
                    cost=totals.cost,
                    duration_ms=totals.duration_ms,
                )
                return [self.run_frame()]
        return []

    def finish(self, status: Run.Status, *, note: str = "", **totals: Any) -> None:
        """End the run; seats still writing are marked stopped with what they had."""
        for seat, answer in enumerate(self.answers):
            if answer.status in (SeatAnswer.Status.WAITING, SeatAnswer.Status.WRITING):
                self._set_answer(seat, status=SeatAnswer.Status.STOPPED)
        if status == Run.Status.STOPPED and not self.run.duration_ms:
            totals.setdefault("duration_ms", (timezone.now() - self.run.started_at).total_seconds() * 1000)
        self._set_run(
            status=status, note=note, stage=Run.Stage.FINISHED, finished_at=timezone.now(), **totals
        )

    def beat(self) -> None:
        """Say the run is alive: saved with the next flush, watched by the interrupted-run sweep."""
        self._set_run(heartbeat_at=timezone.now())

    def _final(self, column: Column, frame: str) -> list[str]:
        # The final frame carries the whole text: text still waiting for the frame clock
        # must not be appended after it.
        live = self.columns[column]
        live.unsent, live.unsent_reasoning = [], []
        live.finished = True
        return [frame]

    def _buffer(self, column: Column, text: str) -> list[str]:
        live = self.columns[column]
        live.unsent.append(text)
        if not live.framed_once:
            live.framed_once = True
            return [self.text_frame(column)]
        return []

    def _set_answer(self, seat: int, **values: Any) -> None:
        self._finished_html = None
        answer = self.answers[seat]
        for name, value in values.items():
            setattr(answer, name, value)
        self._dirty_answers.setdefault(seat, set()).update(values)

    def _mark_answer(self, seat: int, name: str) -> None:
        self._dirty_answers.setdefault(seat, set()).add(name)

    def _set_run(self, **values: Any) -> None:
        self._finished_html = None
        for name, value in values.items():
            setattr(self.run, name, value)
        self._dirty_run.update(values)

    # -- what to save ----------------------------------------------------------------------

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

    # -- frames ---------------------------------------------------------------------------

    def pending_columns(self) -> list[Column]:
        return [key for key, live in self.columns.items() if live.unsent or live.unsent_reasoning]

    def text_frame(self, column: Column) -> str:
        """Append the column's newly settled blocks, and replace its unsettled tail."""
        live = self.columns[column]
        prefix = self._column_id(column)
        parts = []
        if live.unsent:
            settled, tail = live.markdown.feed("".join(live.unsent))
            live.unsent = []
            if settled:
                parts.append(f'<div id="{prefix}-blocks" hx-swap-oob="beforeend">{"".join(settled)}</div>')
            parts.append(f'<div id="{prefix}-tail" hx-swap-oob="innerHTML">{tail}</div>')
        if live.unsent_reasoning:
            reasoning = escape("".join(live.unsent_reasoning))
            live.unsent_reasoning = []
            parts.append(f'<div id="{prefix}-reasoning" hx-swap-oob="beforeend">{reasoning}</div>')
        return "".join(parts)

    def _column_id(self, column: Column) -> str:
        if column == FUSED:
            return f"run-{self.run.pk}-fused"
        return f"run-{self.run.pk}-seat-{column}"

    def _render(self, partial: str, **context: Any) -> str:
        # Frames reach only the owner's sockets (the consumer checks), so the owner's actions show.
        context = {"run": self.run, "answers": self.answers, "oob": True, "owner_view": True, **context}
        return render_to_string(f"chat/run.html#{partial}", context)

    def tool_frame(self, seat: int, step: dict[str, Any]) -> str:
        item = render_to_string("chat/run.html#tool-step", {"step": step})
        return f'<ul id="run-{self.run.pk}-seat-{seat}-tools" hx-swap-oob="beforeend">{item}</ul>'

    def seat_header_frame(self, seat: int) -> str:
        return self._render("seat-header", answer=self.answers[seat])

    def seat_final_frame(self, seat: int) -> str:
        return self._render("seat", answer=self.answers[seat])

    def fused_header_frame(self) -> str:
        return self._render("fused-header")

    def fused_final_frame(self) -> str:
        return self._render("fused")

    def analysis_frame(self) -> str:
        return self._render("analysis", answers=self.answers)

    def progress_frame(self) -> str:
        return self._render("progress")

    def run_frame(self) -> str:
        """The whole run, for a viewer who joins mid-run or for the end of the run."""
        if not self.run.is_running:
            if self._finished_html is None:
                self._finished_html = self._render("run", answers=self.answers)
            return self._finished_html
        live_rows: list[tuple[Run | SeatAnswer, LiveColumn]] = [
            (answer, self.columns[seat]) for seat, answer in enumerate(self.answers)
        ]
        live_rows.append((self.run, self.columns[FUSED]))
        # A finished column's streamed blocks stop at its last text frame; its text is whole.
        live_rows = [(row, column) for row, column in live_rows if not column.finished]
        # A streaming column is shown as its settled blocks plus its tail, so that the next
        # text frame (which appends blocks) lines up with what the viewer has.
        for row, column in live_rows:
            row.is_live, row.live_blocks, row.live_tail = (
                True,
                column.blocks_html,
                column.markdown.tail_html(),
            )
        try:
            return self._render("run", answers=self.answers)
        finally:
            for row, _ in live_rows:
                row.is_live, row.live_blocks, row.live_tail = False, "", ""
