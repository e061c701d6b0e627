"""Template tags of a run's page: the DOM ids frames address (chat.runs.protocol), live columns,
seats' names, stages and token figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from chat import formatting
from chat.fusion.context import CHARS_PER_TOKEN
from chat.models import Run, SeatAnswer
from chat.runs import creation, judged, protocol

register = template.Library()

STAGES = (Run.Stage.PANEL, Run.Stage.ANALYSIS, Run.Stage.FUSED)


@register.simple_tag
def run_id(run_pk: int, part: str = "run") -> str:
    """`{% run_id run.pk "progress" %}`: the id of a part of a run's page."""
    return protocol.run_dom_id(run_pk, part)


@register.simple_tag
def column_id(run_pk: int, column: int | str, part: str = "") -> str:
    """`{% column_id run.pk answer.index "blocks" %}`, or `"fused"` for the fused answer's column."""
    return protocol.column_dom_id(run_pk, column, part)


@register.simple_tag
def spend_id() -> str:
    return protocol.SPEND_ID


@register.simple_tag
def socket_url(run_pk: int) -> str:
    return protocol.socket_url(run_pk)


@register.simple_tag
def conversation_socket_url(conversation_pk: int) -> str:
    return protocol.conversation_socket_url(conversation_pk)


@register.simple_tag
def run_news_id() -> str:
    return protocol.RUN_NEWS_ID


@register.filter
def live_view(live: dict[Any, Any] | None, column: int | str) -> Any:
    """The streaming view of a column (chat.runs.frames.LiveView) in a live render, else None."""
    return (live or {}).get(column)


@register.filter
def seat_label(answer: SeatAnswer, answers: Any) -> str:
    """`{{ answer|seat_label:answers }}`: the seat's short name, lettered if it has a twin."""
    labels = formatting.seat_labels([seat.model for seat in answers])
    return labels[answer.index] if answer.index < len(labels) else formatting.short_model_name(answer.model)


@register.filter
def twin_mark(answer: SeatAnswer, answers: Any) -> str:
    """What tells the seat from its twin after the model's name (" · A"), or nothing."""
    return seat_label(answer, answers)[len(formatting.short_model_name(answer.model)) :]


@register.filter
def stage_look(run: Run, stage: str) -> str:
    """How a stage's pill looks: past, current, future, or stopped (where a run that did not
    finish ended)."""
    if run.stage == Run.Stage.FINISHED:
        return "past"
    at, this = STAGES.index(Run.Stage(run.stage)), STAGES.index(Run.Stage(stage))
    if this < at:
        return "past"
    if this > at:
        return "future"
    return "current" if run.is_running else "stopped"


@dataclass(frozen=True)
class StagePill:
    """A stage of a run as its pill shows it: the stage, its name, and the id of its part."""

    stage: str
    label: str
    target: str


@register.filter
def answer_name(run: Run) -> str:
    """What the run's answer is called: an Auto-fuse run's is its model's own, not a fusion."""
    return "Answer" if run.auto_fuse else "Fused answer"


@register.filter
def stage_pills(run: Run) -> list[StagePill]:
    """The run's stages: the panel, the analysis and the answer, or only the answer for an
    Auto-fuse run whose model has not consulted the panel (Run.asks_panel)."""
    answer = StagePill(Run.Stage.FUSED, answer_name(run), protocol.column_dom_id(run.pk, protocol.FUSED))
    if not run.asks_panel:
        return [answer]
    if run.compare_only:
        # Side by side and no further: no analysis, no fused answer to point to.
        return [StagePill(Run.Stage.PANEL, "Panel", protocol.run_dom_id(run.pk, "columns"))]
    return [
        StagePill(Run.Stage.PANEL, "Panel", protocol.run_dom_id(run.pk, "columns")),
        StagePill(Run.Stage.ANALYSIS, "Analysis", protocol.run_dom_id(run.pk, "analysis")),
        answer,
    ]


@dataclass(frozen=True)
class TokenFigure:
    text: str
    title: str


@register.filter
def token_figure(answer: SeatAnswer) -> TokenFigure:
    """A seat's tokens as reported; when none were (a stopped stream reports none), an estimate
    from the text that arrived, or a plain "not reported": never a misleading "0 tok"."""
    if answer.total_tokens:
        return TokenFigure(f"{formatting.thousands(answer.total_tokens)} tok", "Prompt + completion tokens")
    if answer.text:
        estimate = formatting.thousands(max(1, len(answer.text) // CHARS_PER_TOKEN))
        return TokenFigure(
            f"≈ {estimate} tok", "Estimated from the text that arrived: the model reported no token count"
        )
    return TokenFigure("tokens not reported", "The model reported no token count")


# -- judging terms (chat.runs.judged) ----------------------------------------------------


@register.filter
def judged_on(run: Run, answers: Any) -> judged.JudgedOn | None:
    """`{{ run|judged_on:answers }}`: what the run was judged on, when not every seat's answer."""
    return judged.judged_on(run, answers)


@register.simple_tag
def late_state(run: Run, answer: SeatAnswer, answers: Any) -> str:
    """`{% late_state run answer answers %}`: a late seat's "answered 14 s later", or ""."""
    return judged.seat_late_state(run, answer, answers)


@register.simple_tag
def late_note(run: Run, answer: SeatAnswer, answers: Any) -> str:
    """`{% late_note run answer answers %}`: the sentence a late seat's column opens with."""
    return judged.late_note(run, answer, answers)


@register.filter
def stopped_late(answer: SeatAnswer) -> bool:
    """`{{ answer|stopped_late }}`: stopped by the panel's terms when it was judged: no error."""
    return judged.stopped_late(answer)


@register.filter
def seat_settings(run: Run, answer: SeatAnswer) -> str:
    """`{{ run|seat_settings:answer }}`: the seat's own sampling, e.g. "temp 0.9 · effort high"."""
    return run.run_options.for_seat(answer.index).summary()


@register.filter
def can_rejudge(run: Run, answers: Any) -> bool:
    """`{{ run|can_rejudge:answers }}`: whether the run's answers may be fused again."""
    return creation.can_rejudge(run, answers)
