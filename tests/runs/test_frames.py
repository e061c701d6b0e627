"""What a live run's frames and its page show: the seat strip, the stage pills, token figures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string

from chat.fusion.events import CallStats, SeatDelta, SeatDone, SeatStarted
from chat.models import Run, SeatAnswer
from chat.runs.frames import Frames
from chat.runs.protocol import column_dom_id
from chat.runs.state import RunState
from chat.templatetags.run_tags import stage_look, token_figure, twin_mark
from tests.fakes import SEATS
from tests.html import attr, tags, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def state(alice: User, make_run: Callable[..., Run]) -> RunState:
    run = make_run(alice)
    return RunState(run, list(run.answers.order_by("index")))


def tab(frames: list[str], run: Run, seat: int) -> str:
    """The seat's tab in these frames (there must be one, swapped out of band): its link's class."""
    tab_id = column_dom_id(run.pk, seat, "tab")
    found = [element for frame in frames for element in tags(frame) if attr(element, "id") == tab_id]
    assert len(found) == 1, frames
    assert attr(found[0], "hx-swap-oob") == "outerHTML"
    link = next(element for element in tags(str(found[0])) if element.name == "a")
    return attr(link, "class") or ""


def test_a_seat_that_starts_writing_updates_its_tab_in_the_seat_strip(state: RunState) -> None:
    frames = Frames(state).show(state.apply(SeatStarted(seat=1, model=SEATS[1])))
    assert "status-writing" in tab(frames, state.run, 1)


def test_a_seat_that_finishes_updates_its_tab_in_the_seat_strip(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(SeatStarted(seat=0, model=SEATS[0])))
    stats = CallStats(model=SEATS[0], prompt_tokens=3, completion_tokens=2)
    done = SeatDone(seat=0, text="Blue.", stats=stats)
    assert "status-done" in tab(frames.show(state.apply(done)), state.run, 0)


def run_at(stage: Run.Stage, status: Run.Status) -> Run:
    return Run(pk=7, stage=stage, status=status)


def looks(run: Run) -> list[str]:
    return [stage_look(run, stage) for stage in ("panel", "analysis", "fused")]


def test_a_running_runs_pills_are_past_current_and_future() -> None:
    run = run_at(Run.Stage.ANALYSIS, Run.Status.RUNNING)
    assert looks(run) == ["past", "current", "future"]


def test_a_stopped_runs_pills_show_where_it_stopped_and_nothing_after_as_past() -> None:
    run = run_at(Run.Stage.PANEL, Run.Status.STOPPED)
    assert looks(run) == ["stopped", "future", "future"]


def test_a_finished_runs_pills_are_all_past() -> None:
    run = run_at(Run.Stage.FINISHED, Run.Status.DONE)
    assert set(looks(run)) == {"past"}


def test_the_stage_pills_link_to_the_runs_columns_analysis_and_fused_answer() -> None:
    run = run_at(Run.Stage.FINISHED, Run.Status.DONE)
    html = render_to_string("chat/run.html#progress", {"run": run})
    links = [attr(element, "href") for element in tags(html) if element.name == "a"]
    assert links == ["#run-7-columns", "#run-7-analysis", "#run-7-fused"]


def test_a_stopped_runs_status_is_its_one_sentence() -> None:
    run = run_at(Run.Stage.PANEL, Run.Status.STOPPED)
    run.note = "Stopped by you after 4.2 s."
    html = render_to_string("chat/run.html#progress", {"run": run})
    status = next(element for element in tags(html) if attr(element, "role") == "status")
    assert text(status) == "Stopped by you after 4.2 s."


def test_reported_tokens_are_shown_as_reported() -> None:
    answer = SeatAnswer(prompt_tokens=1000, completion_tokens=234, text="x" * 40)
    assert token_figure(answer).text == "1,234 tok"


def test_a_seat_stopped_after_text_arrived_shows_an_estimate_not_zero() -> None:
    answer = SeatAnswer(status=SeatAnswer.Status.STOPPED, text="x" * 400)
    assert token_figure(answer).text == "≈ 100 tok"


def test_a_seat_with_no_text_and_no_count_says_so() -> None:
    assert token_figure(SeatAnswer(status=SeatAnswer.Status.STOPPED)).text == "tokens not reported"


def test_twin_seats_regions_are_told_apart_beyond_their_number() -> None:
    answers = [SeatAnswer(index=i, model=model) for i, model in enumerate(["a/kimi", "b/glm", "a/kimi"])]
    assert [twin_mark(answer, answers) for answer in answers] == [" · A", "", " · B"]


def test_a_text_frame_shows_the_unsettled_block_as_written(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(SeatStarted(seat=0, model=SEATS[0])))
    frames.show(state.apply(SeatDelta(seat=0, text="Some **bold")))
    frames.show(state.apply(SeatDelta(seat=0, text="** text")))

    [frame] = frames.pending_text()

    tail_id = column_dom_id(state.run.pk, 0, "tail")
    [tail] = [element for element in tags(frame) if attr(element, "id") == tail_id]
    assert text(tail) == "Some **bold** text"
    assert not frames.renders_markdown()


def test_a_text_frame_renders_a_block_once_it_settles(state: RunState) -> None:
    frames = Frames(state)
    frames.show(state.apply(SeatDelta(seat=0, text="Some **bold** text")))
    frames.show(state.apply(SeatDelta(seat=0, text="\n\nNext")))

    assert frames.renders_markdown()
    [frame] = frames.pending_text()

    blocks_id = column_dom_id(state.run.pk, 0, "blocks")
    [blocks] = [element for element in tags(frame) if attr(element, "id") == blocks_id]
    assert [text(element) for element in tags(str(blocks)) if element.name == "strong"] == ["bold"]
