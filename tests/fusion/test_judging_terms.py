"""The panel's judging terms: quorum and deadline with late seats, kept answers re-fused, the
owner's instructions, each seat's sampling, and compare only."""

from __future__ import annotations

import asyncio

import pytest

from chat.fusion.events import (
    LATE_STOPPED,
    AnalysisStarted,
    CallStats,
    Event,
    FusedStarted,
    PanelJudged,
    RunDone,
    SeatDone,
    SeatFailed,
)
from chat.fusion.options import RunOptions, SeatOptions
from chat.fusion.pipeline import COMPARE_ONLY_NOTE, run_fusion
from chat.fusion.request import ReusedAnswer
from chat.providers.types import TextDelta
from tests.fakes import JUDGE, SEATS, FakeClock, FakeModelClient, Gate, Tick, analysis_json, answer

from .conftest import collect, make_request


def index_of(events: list[Event], kind: type, **fields: object) -> int:
    for index, event in enumerate(events):
        if isinstance(event, kind) and all(getattr(event, k) == v for k, v in fields.items()):
            return index
    raise AssertionError(f"no {kind.__name__} with {fields} among {[type(e).__name__ for e in events]}")


def script_judge_and_writer(fake: FakeModelClient) -> None:
    fake.script(JUDGE, answer(analysis_json()))
    fake.script(JUDGE, answer("The fused answer."))


def judge_prompt(fake: FakeModelClient) -> str:
    return str(fake.requests_for(JUDGE)[0].messages)


@pytest.mark.asyncio
async def test_quorum_of_two_judges_at_two_seconds_and_keeps_the_ten_second_seat_as_late(
    fake: FakeModelClient, clock: FakeClock
) -> None:
    second, third = Gate(), Gate()
    fake.script("alpha/one", [Tick(1), *answer("one")])
    fake.script("beta/two", [second, Tick(1), *answer("two")])
    fake.script("gamma/three", [third, Tick(8), *answer("the straggler")])
    script_judge_and_writer(fake)
    request = make_request(SEATS, options=RunOptions(quorum=2))
    run = asyncio.create_task(collect(run_fusion(request, fake, clock=clock, sleep=clock.sleep)))

    async with asyncio.timeout(5):
        await fake.wait_for_requests(3)
        second.open()
        await fake.wait_for_requests(5)  # the judge, then the writer, while the third still runs
        assert "gamma/three" not in fake.closed
        third.open()
        events = await run

    judged = events[index_of(events, PanelJudged)]
    assert judged == PanelJudged(judged=[0, 1], late=[2], cause="quorum", at_ms=2000)
    assert index_of(events, PanelJudged) < index_of(events, AnalysisStarted)
    late = events[index_of(events, SeatDone, seat=2)]
    assert isinstance(late, SeatDone) and late.text == "the straggler"
    assert index_of(events, SeatDone, seat=2) > index_of(events, FusedStarted)
    assert "the straggler" not in judge_prompt(fake)
    assert "the straggler" not in str(fake.requests_for(JUDGE)[1].messages)
    done = events[-1]
    assert isinstance(done, RunDone) and done.status == "done"
    assert done.note.startswith("Judged on 2 of 3 seats at its quorum; gamma/three answered 8 s later.")
    # The late seat's call is counted: it was made and billed.
    assert done.totals.completion_tokens == 20 * 5


@pytest.mark.asyncio
async def test_a_deadline_with_one_answer_in_waits_for_a_second(
    fake: FakeModelClient, clock: FakeClock
) -> None:
    second, third = Gate(), Gate()
    fake.script("alpha/one", [Tick(1), *answer("one")])
    fake.script("beta/two", [second, *answer("two")])
    fake.script("gamma/three", [third, *answer("three")])
    script_judge_and_writer(fake)
    request = make_request(SEATS, options=RunOptions(deadline_s=3))
    run = asyncio.create_task(collect(run_fusion(request, fake, clock=clock, sleep=clock.sleep)))

    async with asyncio.timeout(5):
        await fake.wait_for_requests(3)
        clock.advance(4)  # five seconds in: past the deadline, with one answer
        second.open()
        await fake.wait_for_requests(4)
        third.open()
        events = await run

    judged = events[index_of(events, PanelJudged)]
    assert isinstance(judged, PanelJudged)
    assert (judged.judged, judged.late, judged.cause) == ([0, 1], [2], "deadline")
    assert judged.at_ms == 5000
    assert index_of(events, SeatDone, seat=1) < index_of(events, PanelJudged)


@pytest.mark.asyncio
async def test_a_deadline_never_cuts_a_panel_that_answered_in_time(
    fake: FakeModelClient, clock: FakeClock
) -> None:
    for model in SEATS:
        fake.script(model, answer(model))
    script_judge_and_writer(fake)
    request = make_request(SEATS, options=RunOptions(deadline_s=3, quorum=2))
    # Every seat answers in the same instant: the quorum is met with none still running.
    events = await collect(run_fusion(request, fake, clock=clock, sleep=clock.sleep))
    assert not any(isinstance(event, PanelJudged) for event in events)
    assert all(model in judge_prompt(fake) for model in SEATS)


@pytest.mark.asyncio
async def test_late_seats_are_stopped_when_the_panel_says_so(fake: FakeModelClient, clock: FakeClock) -> None:
    fake.script("alpha/one", answer("one"))
    fake.script("beta/two", answer("two"))
    fake.script("gamma/three", [TextDelta(text="half an "), asyncio.Event()])
    script_judge_and_writer(fake)
    request = make_request(SEATS, options=RunOptions(quorum=2, late_seats="stop"))

    async with asyncio.timeout(5):
        events = await collect(run_fusion(request, fake, clock=clock, sleep=clock.sleep))

    assert "gamma/three" in fake.interrupted
    stopped = events[index_of(events, SeatFailed, seat=2)]
    assert isinstance(stopped, SeatFailed)
    assert (stopped.kind, stopped.partial_text) == (LATE_STOPPED, "half an ")
    assert index_of(events, SeatFailed, seat=2) < index_of(events, AnalysisStarted)
    done = events[-1]
    assert isinstance(done, RunDone) and done.status == "done"
    assert "gamma/three was stopped" in done.note


@pytest.mark.asyncio
async def test_refusing_with_every_stored_answer_asks_no_seat(fake: FakeModelClient) -> None:
    kept = {
        seat: ReusedAnswer(text=f"stored {model}", stats=CallStats(model=model, completion_tokens=7))
        for seat, model in enumerate(SEATS)
    }
    script_judge_and_writer(fake)
    events = await collect(run_fusion(make_request(SEATS, reuse=kept), fake))

    assert [request.model for request in fake.requests] == [JUDGE, JUDGE]
    assert all(f"stored {model}" in judge_prompt(fake) for model in SEATS)
    done = events[-1]
    assert isinstance(done, RunDone) and done.status == "done"
    assert done.totals.completion_tokens == 40  # the judge and the writer only


@pytest.mark.asyncio
async def test_a_stored_failure_stays_failed_and_is_neither_asked_nor_counted(fake: FakeModelClient) -> None:
    kept = {
        0: ReusedAnswer(text="stored one", stats=CallStats(model="alpha/one")),
        1: ReusedAnswer(text="stored two", stats=CallStats(model="beta/two")),
        2: ReusedAnswer(text="", stats=CallStats(model="gamma/three", cost=0.5), failure="Down."),
    }
    script_judge_and_writer(fake)
    events = await collect(run_fusion(make_request(SEATS, reuse=kept), fake))
    failed = events[index_of(events, SeatFailed, seat=2)]
    assert isinstance(failed, SeatFailed) and failed.reused and failed.reason == "Down."
    assert "gamma/three" not in [request.model for request in fake.requests]
    done = events[-1]
    assert isinstance(done, RunDone) and done.totals.cost is None


@pytest.mark.asyncio
async def test_instructions_reach_the_judge_the_writer_and_the_seats(fake: FakeModelClient) -> None:
    for model in SEATS:
        fake.script(model, answer(model))
    script_judge_and_writer(fake)
    options = RunOptions(
        judge_instructions="Check every number and date.",
        writer_instructions="Three bullet points, for a ten-year-old.",
        system_prompt="You are a careful physicist.",
    )
    await collect(run_fusion(make_request(SEATS, options=options), fake))

    judge_call, writer_call = fake.requests_for(JUDGE)
    assert "Check every number and date." in str(judge_call.messages)
    assert "Three bullet points" not in str(judge_call.messages)
    assert "Three bullet points, for a ten-year-old." in writer_call.messages[0]["content"]
    for model in SEATS:
        (seat_call,) = fake.requests_for(model)
        assert seat_call.messages[0] == {"role": "system", "content": "You are a careful physicist."}
    assert "careful physicist" not in str(judge_call.messages)


@pytest.mark.asyncio
async def test_each_seat_samples_as_its_own_settings_say(fake: FakeModelClient) -> None:
    twins = ["alpha/one", "alpha/one"]
    fake.script("alpha/one", answer("cool"))
    fake.script("alpha/one", answer("warm"))
    script_judge_and_writer(fake)
    options = RunOptions(
        seats=[
            SeatOptions(temperature=0.2, seed=1),
            SeatOptions(temperature=1.3, reasoning_effort="high", max_tokens=500, seed=2),
        ]
    )
    await collect(run_fusion(make_request(twins, options=options), fake))

    by_seat = {request.seat: request for request in fake.requests_for("alpha/one")}
    assert (by_seat[0].temperature, by_seat[0].seed, by_seat[0].reasoning) == (0.2, 1, None)
    assert (by_seat[1].temperature, by_seat[1].seed, by_seat[1].max_tokens) == (1.3, 2, 500)
    assert by_seat[1].reasoning == {"effort": "high"}
    # The judge keeps its own sampling: one reading, at temperature 0.
    assert fake.requests_for(JUDGE)[0].temperature == 0


@pytest.mark.asyncio
async def test_compare_only_streams_the_seats_and_stops_there(fake: FakeModelClient) -> None:
    for model in SEATS:
        fake.script(model, answer(model))
    events = await collect(run_fusion(make_request(SEATS, options=RunOptions(compare_only=True)), fake))

    assert [request.model for request in fake.requests] == list(SEATS)
    assert not any(isinstance(event, AnalysisStarted | FusedStarted) for event in events)
    done = events[-1]
    assert isinstance(done, RunDone) and (done.status, done.note) == ("done", COMPARE_ONLY_NOTE)
