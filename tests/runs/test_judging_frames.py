"""A run's judging terms on its page, live and after a reload: the late seat's badge and column,
the line saying what the run was judged on, per-seat settings, instructions and compare only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string

from chat.fusion.events import LATE_STOPPED, CallStats, PanelJudged, SeatDone, SeatFailed, SeatStarted
from chat.fusion.options import RunOptions, SeatOptions
from chat.fusion.seats import LATE_STOPPED_REASON
from chat.models import Run, SeatAnswer
from chat.runs.frames import Frames
from chat.runs.judged import judged_on
from chat.runs.protocol import column_dom_id, run_dom_id
from chat.runs.state import RunState
from tests.fakes import SEATS
from tests.html import attr, tags, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def state(alice: User, make_run: Callable[..., Run]) -> RunState:
    run = make_run(alice)
    run.options = RunOptions(quorum=2).stored()
    run.save(update_fields=["options"])
    state = RunState(run, list(run.answers.order_by("index")))
    for seat, model in enumerate(SEATS):
        state.apply(SeatStarted(seat=seat, model=model))
    for seat in (0, 1):
        state.apply(done(seat, duration_ms=1_000.0 * (seat + 1)))
    return state


def done(seat: int, *, duration_ms: float, text: str = "An answer.") -> SeatDone:
    stats = CallStats(model=SEATS[seat], prompt_tokens=3, completion_tokens=2, duration_ms=duration_ms)
    return SeatDone(seat=seat, text=text, stats=stats)


JUDGED = PanelJudged(judged=[0, 1], late=[2], cause="quorum", at_ms=2_000.0)


def by_id(frames: list[str] | str, dom_id: str) -> list:
    html = "".join(frames) if isinstance(frames, list) else frames
    return [element for element in tags(html) if attr(element, "id") == dom_id]


def is_hidden(element) -> bool:
    return "hidden" in dict(element.attributes)


def test_the_judged_event_marks_the_late_seats_header_live(state: RunState) -> None:
    frames = Frames(state).show(state.apply(JUDGED))
    [head] = by_id(frames, column_dom_id(state.run.pk, 2, "head"))
    assert attr(head, "hx-swap-oob") == "outerHTML"
    assert "late" in [text(e) for e in tags(str(head)) if "badge-late" in (attr(e, "class") or "")]
    assert "still answering" in text(head)
    # The seats the judge read carry no badge.
    assert not by_id(frames, column_dom_id(state.run.pk, 0, "head"))
    assert by_id(frames, run_dom_id(state.run.pk, "progress"))


def test_a_late_seat_that_answers_says_how_much_later_and_that_it_was_not_judged(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(JUDGED))
    shown = frames.show(state.apply(done(2, duration_ms=16_000.0, text="The late one.")))
    [column] = by_id(shown, column_dom_id(state.run.pk, 2))
    assert "answered 14 s later" in text(column)
    assert "not judged" in text(column)
    # The line above the analysis is brought up to date with it.
    [analysis] = by_id(shown, run_dom_id(state.run.pk, "analysis"))
    assert f"Judged on 2 of 3 seats at its quorum; {SEATS[2]} answered 14 s later" in text(analysis)


def test_a_seat_stopped_at_the_quorum_reads_as_stopped_not_as_an_error(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(JUDGED))
    stats = CallStats(model=SEATS[2], prompt_tokens=3, completion_tokens=1)
    stopped = SeatFailed(
        seat=2, reason=LATE_STOPPED_REASON, partial_text="half", stats=stats, kind=LATE_STOPPED
    )
    shown = frames.show(state.apply(stopped))
    assert state.answers[2].status == SeatAnswer.Status.STOPPED
    [column] = by_id(shown, column_dom_id(state.run.pk, 2))
    assert "Stopped at the quorum: the panel was judged without it." in text(column)
    assert not [e for e in tags(str(column)) if attr(e, "role") == "alert"]


def test_a_late_seat_that_fails_shows_its_error(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(JUDGED))
    stats = CallStats(model=SEATS[2], prompt_tokens=3, completion_tokens=1)
    shown = frames.show(state.apply(SeatFailed(seat=2, reason="The provider is down.", stats=stats)))
    [column] = by_id(shown, column_dom_id(state.run.pk, 2))
    [alert] = [e for e in tags(str(column)) if attr(e, "role") == "alert"]
    assert text(alert) == "The provider is down." and "failed later" in text(column)


def test_a_late_seat_its_owner_stopped_is_not_said_to_be_stopped_by_the_quorum(state: RunState) -> None:
    state.apply(JUDGED)
    run = state.run
    run.status = Run.Status.STOPPED
    state.answers[2].status = SeatAnswer.Status.STOPPED
    html = render_to_string(
        "chat/run.html#seat", {"run": run, "answers": state.answers, "answer": state.answers[2]}
    )
    assert "Late: stopped. This answer was not judged." in html and "quorum" not in html


def test_after_a_reload_the_run_says_what_it_was_judged_on_and_offers_to_re_fuse(state: RunState) -> None:
    state.apply(JUDGED)
    state.apply(done(2, duration_ms=16_000.0))
    run = state.run
    run.status, run.stage = Run.Status.DONE, Run.Stage.FINISHED
    run.save()
    for answer in state.answers:
        answer.save()
    reloaded = Run.objects.get(pk=run.pk)
    answers = list(reloaded.answers.order_by("index"))
    html = render_to_string("chat/run.html#run", {"run": reloaded, "answers": answers, "owner_view": True})
    [note] = [e for e in tags(html) if "judged-on" in (attr(e, "class") or "").split()]
    assert text(note).startswith(f"Judged on 2 of 3 seats at its quorum; {SEATS[2]} answered 14 s later.")
    [button] = [e for e in tags(str(note)) if e.name == "button"]
    assert text(button) == "Re-fuse with all answers"
    [form] = [e for e in tags(str(note)) if e.name == "form"]
    assert attr(form, "action") == f"/runs/{run.pk}/rejudge/"
    [head] = by_id(html, column_dom_id(run.pk, 2, "head"))
    assert "late" in text(head) and "answered 14 s later" in text(head)
    # Someone it was shared with reads the line, without the action.
    shared = render_to_string("chat/run.html#run", {"run": reloaded, "answers": answers})
    assert "Judged on 2 of 3 seats" in shared and "Re-fuse with all answers" not in shared


def test_no_line_for_a_run_that_waited_for_every_seat(state: RunState) -> None:
    state.apply(done(2, duration_ms=3_000.0))
    assert judged_on(state.run, state.answers) is None


def test_each_seat_shows_its_own_settings(alice: User, make_run: Callable[..., Run]) -> None:
    run = make_run(alice)
    run.options = RunOptions(seats=[SeatOptions(temperature=0.9, reasoning_effort="high")]).stored()
    answers = list(run.answers.order_by("index"))
    html = render_to_string("chat/run.html#panel", {"run": run, "answers": answers})
    settings = [text(e) for e in tags(html) if attr(e, "class") == "seat-settings"]
    assert settings == ["temp 0.9 · effort high"]  # only the first seat has its own
    [first_head] = by_id(html, column_dom_id(run.pk, 0, "head"))
    assert "temp 0.9 · effort high" in text(first_head)


def test_the_runs_instructions_are_shown_escaped(alice: User, make_run: Callable[..., Run]) -> None:
    run = make_run(alice)
    run.options = RunOptions(
        judge_instructions="Check <b>numbers</b> and dates.", writer_instructions="For a ten-year-old."
    ).stored()
    html = render_to_string("chat/run.html#instructions", {"run": run})
    assert "&lt;b&gt;numbers&lt;/b&gt;" in html and "<b>" not in html
    [details] = [e for e in tags(html) if e.name == "details"]
    assert "To the judge" in text(details) and "For a ten-year-old." in text(details)
    assert "open" not in dict(details.attributes)  # collapsed


def test_no_instructions_no_disclosure(alice: User, make_run: Callable[..., Run]) -> None:
    run = make_run(alice)
    assert "Instructions" not in render_to_string("chat/run.html#instructions", {"run": run})


def test_a_compare_only_run_shows_the_seats_and_no_analysis_or_fused_answer(
    alice: User, make_run: Callable[..., Run]
) -> None:
    run = make_run(alice)
    run.options = RunOptions(compare_only=True).stored()
    run.status, run.stage = Run.Status.DONE, Run.Stage.FINISHED
    run.note = "Compare only: the panel's answers side by side, with no judge and no fused answer."
    run.save()
    SeatAnswer.objects.filter(run=run).update(status=SeatAnswer.Status.DONE, text="An answer.")
    answers = list(run.answers.order_by("index"))
    html = render_to_string("chat/run.html#run", {"run": run, "answers": answers, "owner_view": True})
    pills = [text(e) for e in tags(html) if e.name == "ol" for e in tags(str(e)) if e.name == "a"]
    assert pills == ["Panel"]
    [analysis] = by_id(html, run_dom_id(run.pk, "analysis"))
    [fused] = by_id(html, column_dom_id(run.pk, "fused"))
    assert is_hidden(analysis) and not text(analysis)
    assert is_hidden(fused) and "Fused answer" not in text(fused)
    [status] = [e for e in tags(html) if attr(e, "role") == "status"]
    assert "Compare only" in text(status)
    assert "Run total:" in html
    # Fusing it later is a Re-judge.
    assert "Fuse these answers" in html


def test_a_running_compare_only_run_says_so(alice: User, make_run: Callable[..., Run]) -> None:
    run = make_run(alice)
    run.options = RunOptions(compare_only=True).stored()
    html = render_to_string("chat/run.html#progress", {"run": run})
    [status] = [e for e in tags(html) if attr(e, "role") == "status"]
    assert "Compare only" in text(status)
