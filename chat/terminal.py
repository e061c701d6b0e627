"""A live terminal display of a fusion run, for `manage.py fuse`."""

from __future__ import annotations

import time
from types import TracebackType
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chat.formatting import dollars, seconds
from chat.fusion.analysis import Analysis
from chat.fusion.events import (
    LATE_STOPPED,
    AnalysisFailed,
    AnalysisReady,
    CallStats,
    Event,
    FusedDelta,
    FusedDone,
    FusedFailed,
    PanelConsulted,
    PanelJudged,
    PanelNotConsulted,
    RunDone,
    RunStarted,
    SeatDelta,
    SeatDone,
    SeatFailed,
    SeatStarted,
)


class _SeatLine:
    def __init__(self, model: str) -> None:
        self.model = model
        self.status = "waiting"
        self.text = ""
        self.stats: CallStats | None = None
        self.started = time.perf_counter()
        # Still running when the panel was judged early: shown after the answer, not judged.
        self.late = False

    def title(self, number: int) -> str:
        late = "late, not judged: " if self.late else ""
        return f"Seat {number}: {self.model} ({late}{self.status})"


def _money(cost: float | None) -> str:
    return dollars(cost, mark_tiny=False)


def _ms(value: float | None) -> str:
    return seconds(value, places=2, spaced=False)


class TerminalView:
    """Shows the panel streaming, then the analysis, then the fused answer as it is written."""

    def __init__(self, out: IO[str], *, simulated: bool) -> None:
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.simulated = simulated
        self.seats: list[_SeatLine] = []
        self.calls: list[CallStats] = []
        self.live = Live(console=self.console, refresh_per_second=12, transient=True)
        # Auto-fuse: the writer answers first, and the panel works only if it consults it.
        self.auto = False
        self.writer = ""

    def __enter__(self) -> TerminalView:
        if self.simulated:
            self.console.print("[yellow]Demo mode: these models are simulated on this machine.[/]")
        self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.stop()

    def show(self, event: Event) -> None:
        match event:
            case RunStarted(seats=seats, writer=writer, auto=auto):
                self.seats = [_SeatLine(model) for model in seats]
                self.auto, self.writer = auto, writer
                if auto:
                    # Its words stream first, as raw text; the panel's table only once it is consulted.
                    self.live.stop()
                    self.console.rule(
                        f"Answer · {writer} (Auto-fuse: it consults the panel if it is worth it)"
                    )
            case PanelConsulted(query=query):
                # The query is model output: a Text, never markup.
                self.console.print()
                self.console.print(Text.assemble(("Consulting the panel: ", "bold"), query))
                self.live.start()
            case PanelNotConsulted(reason=reason):
                self.console.print()
                self.console.print(Text(reason, style="dim"))
            case PanelJudged(judged=judged, late=late, cause=cause):
                for seat in late:
                    self.seats[seat].late = True
                waiting = ", ".join(f"#{seat + 1} {self.seats[seat].model}" for seat in late)
                self.console.print(
                    Text(
                        f"Judged on {len(judged)} of {len(self.seats)} seats at the {cause}; late: {waiting}"
                    )
                )
            case SeatStarted(seat=seat):
                self.seats[seat].status = "writing"
            case SeatDelta(seat=seat, text=text):
                self.seats[seat].text += text
            case SeatDone(seat=seat, stats=stats, complete=complete):
                self.seats[seat].status = "done" if complete else "incomplete"
                self.seats[seat].stats = stats
                self.calls.append(stats)
            case SeatFailed(seat=seat, reason=reason, stats=stats, kind=kind):
                self.seats[seat].status = "stopped" if kind == LATE_STOPPED else f"failed: {reason}"
                self.seats[seat].stats = stats
                self.calls.append(stats)
            case AnalysisReady(analysis=analysis, stats=stats):
                self._finish_panel()
                self.calls.append(stats)
                self.console.print(self._analysis(analysis))
                self.console.rule(
                    f"Answer · {self.writer}, from the analysis" if self.auto else "Fused answer"
                )
            case AnalysisFailed(reason=reason, stats=stats):
                self._finish_panel()
                if stats:
                    self.calls.append(stats)
                self.console.print(f"[red]The analysis is missing: {reason}[/]")
            case FusedDelta(text=text):
                # Raw text as it streams: rich would re-wrap every fragment as a line of its own.
                self.console.file.write(text)
                self.console.file.flush()
            case FusedDone(stats=stats):
                self.console.print()
                self.calls.append(stats)
            case FusedFailed(reason=reason, stats=stats):
                self.console.print(f"\n[red]The fused answer failed: {reason}[/]")
                if stats:
                    self.calls.append(stats)
            case RunDone():
                self._finish_panel()
                self._show_late_seats()
                self.console.print(self._summary(event))
        if self.live.is_started:
            self.live.update(self._panel_table())

    def _finish_panel(self) -> None:
        if self.live.is_started:
            self.live.stop()
            for index, seat in enumerate(self.seats):
                # A late seat is still writing: it is shown once the run has ended.
                if not seat.late:
                    self._show_seat(index)

    def _show_late_seats(self) -> None:
        late = [index for index, seat in enumerate(self.seats) if seat.late]
        if late:
            self.console.print()
            self.console.rule("Late seats (kept, not judged)")
        for index in late:
            self._show_seat(index)

    def _show_seat(self, index: int) -> None:
        seat = self.seats[index]
        self.console.print(Panel(Markdown(seat.text or "_no text_"), title=seat.title(index + 1)))

    def _panel_table(self) -> Table:
        table = Table(title="Panel", expand=True)
        for column in ("seat", "model", "status", "chars", "elapsed"):
            table.add_column(column)
        for index, seat in enumerate(self.seats):
            elapsed = f"{time.perf_counter() - seat.started:.1f}s"
            status = f"late: {seat.status}" if seat.late else seat.status
            table.add_row(str(index + 1), seat.model, status, str(len(seat.text)), elapsed)
        return table

    def _analysis(self, analysis: Analysis) -> Group:
        def names(seats: list[int]) -> str:
            return ", ".join(f"#{seat + 1} {self.seats[seat].model}" for seat in seats)

        lines: list[Text | str] = [Text("Analysis", style="bold")]
        lines.append(Text("Consensus", style="bold green"))
        lines += [f"  • {p.point} — {names(p.seats)}" for p in analysis.consensus]
        lines.append(Text("Contradictions", style="bold red"))
        for c in analysis.contradictions:
            lines.append(f"  • {c.topic}")
            lines += [f"      {names([s.seat])}: {s.stance}" for s in c.stances]
            lines.append(f"      Judge: {c.assessment}")
        lines.append(Text("Partial coverage", style="bold yellow"))
        lines += [f"  • {p.point} — {names(p.seats)}" for p in analysis.partial_coverage]
        lines.append(Text("Unique insights", style="bold cyan"))
        lines += [
            f"  • {names([u.seat])}: {u.insight} ({u.why_it_matters})" for u in analysis.unique_insights
        ]
        lines.append(Text("Blind spots", style="bold magenta"))
        lines += [f"  • {spot}" for spot in analysis.blind_spots]
        return Group(*lines)

    def _summary(self, done: RunDone) -> Group:
        table = Table(title="Calls")
        for column in ("model", "prompt tok", "completion tok", "cost", "first token", "duration"):
            table.add_column(column, overflow="fold")
        for call in self.calls:
            table.add_row(
                call.model,
                str(call.prompt_tokens),
                str(call.completion_tokens),
                _money(call.cost),
                _ms(call.ttft_ms),
                _ms(call.duration_ms),
            )
        totals = done.totals
        status = f"Run {done.status}" + (f": {done.note}" if done.note else "")
        total_line = (
            f"Total: {totals.prompt_tokens + totals.completion_tokens} tokens, "
            f"{_money(totals.cost)}, {_ms(totals.duration_ms)}"
        )
        return Group(table, Text(status, style="bold"), Text(total_line))
