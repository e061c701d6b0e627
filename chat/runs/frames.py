"""A live run's HTML frames: the changes of chat.runs.state, rendered for its viewers.

Text is framed in settled markdown blocks plus an unsettled tail (chat.rendering), so the cost
of a frame does not grow with the length of the answer, whatever the text looks like. A final
text is shown from its kept HTML (RunState.set_html), never rendered here. Every id a frame
addresses comes from chat.runs.protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape

from chat.rendering import RenderBudget, StreamingMarkdown, neutralize_bidi
from chat.runs.protocol import FUSED, Column, column_dom_id
from chat.runs.state import Change, RunState

# A stream of markup that shows nothing (spaces, "#" after "#") goes to the frame clock after
# this many frames sent at once.
MAX_FRAMED_AT_ONCE = 8
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w")


def shows_text(html: str) -> bool:
    """Whether this HTML shows a word (a letter or digit): a live tail is shown as written, so a
    first token of "##", "**" or spaces shows only markup, and the reader still waits for words."""
    return _WORD.search(unescape(_TAG.sub("", html))) is not None


@dataclass
class StreamingColumn:
    """Text of one column that has arrived, and how much of it the browser has been sent."""

    # Under a rendering budget: a hostile stream must not hold the interpreter (chat.rendering).
    # The unsettled tail is shown as written: a frame renders markdown only when a block settles.
    markdown: StreamingMarkdown = field(
        default_factory=lambda: StreamingMarkdown(budget=RenderBudget(), plain_tail=True)
    )
    unsent: list[str] = field(default_factory=list)
    unsent_reasoning: list[str] = field(default_factory=list)
    # The kinds of delta ("text", "reasoning") whose text the column shows already, and how
    # many frames were sent at once before it did (Frames.show).
    shown: set[str] = field(default_factory=set)
    framed_at_once: int = 0
    # Once its final frame is made the column shows its saved text, not the streamed blocks.
    finished: bool = False

    def shows(self, change: Change) -> bool:
        """Whether, with this delta framed, the column shows text of the delta's kind: reasoning
        is plain text, an answer's markdown may render to nothing yet ("##", "**", a fence)."""
        if change.part == "reasoning":
            return bool(change.text.strip())
        return shows_text("".join(self.markdown.blocks) + self.markdown.tail_html())


@dataclass(frozen=True)
class LiveView:
    """What a streaming column shows in a whole-run render: its settled blocks and its tail,
    so that the next text frame (which appends blocks) lines up with what the viewer has."""

    blocks: str
    tail: str


class Frames:
    """Renders a run's changes as htmx out-of-band fragments, and buffers text for the frame clock."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.columns: dict[Column, StreamingColumn] = {
            i: StreamingColumn() for i in range(len(state.answers))
        }
        self.columns[FUSED] = StreamingColumn()
        # The whole finished run, rendered: its last event's frame and its final snapshot show
        # the same thing, and rendering every answer's markdown twice would delay the end.
        self._finished_html: str | None = None

    @property
    def run_id(self) -> int:
        return self.state.run.pk

    def show(self, changes: list[Change]) -> list[str]:
        """The frames that must reach the browser now for these changes.

        Text and reasoning deltas wait for the next tick of the frame clock (up to 50 ms), except
        until the column shows some of their text: the first token is what the reader waits for.
        "Shows": a first token of "##" or "**" renders no text, and a model that reasons first
        shows its reasoning first.
        """
        frames = []
        for change in changes:
            if change.part not in ("text", "reasoning"):
                self._finished_html = None
            frame = self._frame(change)
            if frame:
                frames.append(frame)
        return frames

    def _frame(self, change: Change) -> str:
        column = change.column
        match change.part:
            case "text" | "reasoning":
                assert column is not None
                live = self.columns[column]
                (live.unsent if change.part == "text" else live.unsent_reasoning).append(change.text)
                if change.part in live.shown or live.framed_at_once >= MAX_FRAMED_AT_ONCE:
                    return ""
                frame = self.text_frame(column)
                live.framed_at_once += 1
                if live.shows(change):
                    live.shown.add(change.part)
                return frame
            case "tool":
                item = render_to_string("chat/run.html#tool-step", {"step": change.step})
                assert isinstance(column, int)
                tools_id = column_dom_id(self.run_id, column, "tools")
                return f'<ul id="{tools_id}" hx-swap-oob="beforeend">{item}</ul>'
            case "seat-header":
                assert isinstance(column, int)
                return self._seat_frame("seat-header", column)
            case "seat":
                assert isinstance(column, int)
                self._finish(column)
                return self._seat_frame("seat", column)
            case "fused":
                self._finish(FUSED)
                return self._render("fused")
            case "run":
                return self.run_frame()
            case part:  # progress, consult, panel, analysis, fused-header: a partial of the same name
                return self._render(part)

    def _seat_frame(self, partial: str, seat: int) -> str:
        """A seat's column or header, and its tab in the seat strip, whose dot shows its status."""
        answer = self.state.answers[seat]
        return self._render(partial, answer=answer) + self._render("seat-tab", answer=answer)

    @staticmethod
    def is_heavy(changes: list[Change]) -> bool:
        """Whether showing these changes renders a whole column or run (best done off the loop)."""
        return any(change.part in ("seat", "fused", "run") for change in changes)

    def _finish(self, column: Column) -> None:
        # The final frame carries the whole text: text still waiting for the frame clock
        # must not be appended after it.
        live = self.columns[column]
        live.unsent, live.unsent_reasoning = [], []
        live.finished = True

    def pending_columns(self) -> list[Column]:
        return [key for key, live in self.columns.items() if live.unsent or live.unsent_reasoning]

    def renders_markdown(self) -> bool:
        """Whether `pending_text` may render markdown now (a block settles), or only tails."""
        return any(
            live.unsent and live.markdown.may_settle("".join(live.unsent)) for live in self.columns.values()
        )

    def pending_text(self) -> list[str]:
        """A text frame for every column with text the browser has not been sent."""
        return [self.text_frame(column) for column in self.pending_columns()]

    def text_frame(self, column: Column) -> str:
        """Append the column's newly settled blocks, and replace its unsettled tail."""
        live = self.columns[column]
        parts = []
        if live.unsent:
            settled, tail = live.markdown.feed("".join(live.unsent))
            live.unsent = []
            if settled:
                blocks_id = column_dom_id(self.run_id, column, "blocks")
                parts.append(f'<div id="{blocks_id}" hx-swap-oob="beforeend">{"".join(settled)}</div>')
            parts.append(
                f'<div id="{column_dom_id(self.run_id, column, "tail")}" hx-swap-oob="innerHTML">{tail}</div>'
            )
        if live.unsent_reasoning:
            reasoning = escape(neutralize_bidi("".join(live.unsent_reasoning)))
            live.unsent_reasoning = []
            reasoning_id = column_dom_id(self.run_id, column, "reasoning")
            parts.append(f'<div id="{reasoning_id}" hx-swap-oob="beforeend">{reasoning}</div>')
        return "".join(parts)

    def _render(self, partial: str, **context: Any) -> str:
        # Frames reach only the owner's sockets (the consumer checks), so the owner's actions show.
        context = {
            "run": self.state.run,
            "answers": self.state.answers,
            "oob": True,
            "owner_view": True,
            "declined": self.state.declined,
            **context,
        }
        return render_to_string(f"chat/run.html#{partial}", context)

    def run_frame(self) -> str:
        """The whole run, for a viewer who joins mid-run or for the end of the run."""
        if not self.state.run.is_running:
            if self._finished_html is None:
                self._finished_html = self._render("run")
            return self._finished_html
        # A finished column's streamed blocks stop at its last text frame; its text is whole.
        live = {
            key: LiveView("".join(column.markdown.blocks), column.markdown.tail_html())
            for key, column in self.columns.items()
            if not column.finished
        }
        return self._render("run", live=live)
