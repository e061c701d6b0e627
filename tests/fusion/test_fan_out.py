"""The panel's seats: concurrency, event order, and how each seat's stream ends."""

from __future__ import annotations

import asyncio

import pytest

from chat.fusion.events import (
    Event,
    SeatDelta,
    SeatDone,
    SeatFailed,
    SeatReasoningDelta,
    SeatStarted,
)
from chat.fusion.pipeline import run_fusion
from chat.providers.errors import ProviderError
from chat.providers.types import ReasoningDelta, StreamEnd, TextDelta
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer

from .conftest import collect, make_request


def script_judge_and_writer(fake: FakeModelClient) -> None:
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("The fused answer."))


def seat_events(events: list[Event], seat: int) -> list[Event]:
    return [event for event in events if getattr(event, "seat", None) == seat]


@pytest.mark.asyncio
async def test_every_seat_is_asked_before_any_seat_finishes(fake: FakeModelClient) -> None:
    gate = asyncio.Event()
    for model in SEATS:
        fake.script(model, [TextDelta(text="hi"), gate, StreamEnd(complete=True)])
    script_judge_and_writer(fake)
    run = asyncio.create_task(collect(run_fusion(make_request(SEATS), fake)))

    async with asyncio.timeout(5):
        await fake.wait_for_requests(len(SEATS))
    assert fake.closed == []

    gate.set()
    await run


@pytest.mark.asyncio
async def test_every_seat_gets_the_thread(fake: FakeModelClient) -> None:
    messages = [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First fused answer"},
        {"role": "user", "content": "Follow-up"},
    ]
    for model in SEATS:
        fake.script(model, answer(f"{model} says"))
    script_judge_and_writer(fake)

    await collect(run_fusion(make_request(SEATS, messages=messages), fake))

    assert [fake.requests_for(model)[0].messages for model in SEATS] == [messages] * 3


@pytest.mark.asyncio
async def test_a_held_seat_does_not_delay_another_seats_deltas(fake: FakeModelClient) -> None:
    held = asyncio.Event()
    fake.script("alpha/one", [TextDelta(text="slow"), held, StreamEnd(complete=True)])
    fake.script("beta/two", answer("quick answer"))
    fake.script("gamma/three", answer("another answer"))
    script_judge_and_writer(fake)
    events = run_fusion(make_request(SEATS), fake)

    seen: list[Event] = []
    async with asyncio.timeout(5):
        async for event in events:
            seen.append(event)
            if isinstance(event, SeatDone) and event.seat == 1:
                break
    held.set()
    rest = await collect(events)

    assert "".join(e.text for e in seat_events(seen, 1) if isinstance(e, SeatDelta)) == "quick answer"
    assert not any(isinstance(e, SeatDone) and e.seat == 0 for e in seen)
    assert any(isinstance(e, SeatDone) and e.seat == 0 for e in rest)


@pytest.mark.asyncio
async def test_each_seat_says_started_then_deltas_then_done(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [ReasoningDelta(text="hmm"), *answer("one two")])
    fake.script("beta/two", answer("three"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS[:2]), fake))

    assert [type(event) for event in seat_events(events, 0)] == [
        SeatStarted,
        SeatReasoningDelta,
        SeatDelta,
        SeatDelta,
        SeatDone,
    ]
    done = seat_events(events, 0)[-1]
    assert isinstance(done, SeatDone)
    assert done.text == "one two"
    assert done.complete is True


@pytest.mark.asyncio
async def test_a_failed_seat_keeps_its_partial_text_and_the_providers_reason(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [TextDelta(text="half an "), ProviderError("The model's server went away.")])
    for model in SEATS[1:]:
        fake.script(model, answer(f"{model} says"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    failed = seat_events(events, 0)[-1]
    assert isinstance(failed, SeatFailed)
    assert failed.reason == "The model's server went away."
    assert failed.partial_text == "half an "


@pytest.mark.asyncio
async def test_a_seat_refused_before_streaming_fails_with_the_reason(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("Your key was rejected.", status=401))
    for model in SEATS[1:]:
        fake.script(model, answer(f"{model} says"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert [type(e) for e in seat_events(events, 0)] == [SeatStarted, SeatFailed]


@pytest.mark.asyncio
async def test_a_cut_stream_is_done_but_incomplete(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("cut mid", complete=False))
    fake.script("beta/two", answer("whole"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS[:2]), fake))

    done = seat_events(events, 0)[-1]
    assert isinstance(done, SeatDone)
    assert done.complete is False
    assert done.text == "cut mid"


@pytest.mark.asyncio
async def test_a_cut_stream_without_text_is_a_failure(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [ReasoningDelta(text="thinking..."), StreamEnd(complete=False)])
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    failed = seat_events(events, 0)[-1]
    assert isinstance(failed, SeatFailed)
    assert failed.reason == "The stream ended before any text arrived."


@pytest.mark.asyncio
async def test_a_complete_stream_without_text_is_a_failure(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [StreamEnd(complete=True, finish_reason="content_filter")])
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    failed = seat_events(events, 0)[-1]
    assert isinstance(failed, SeatFailed)
    assert failed.reason == "The model returned no text (finish reason: content_filter)."


@pytest.mark.asyncio
async def test_an_unexpected_error_in_one_seat_fails_only_that_seat(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [TextDelta(text="so far"), KeyError("bug in a client")])
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    failed = seat_events(events, 0)[-1]
    assert isinstance(failed, SeatFailed)
    assert failed.reason == "Unexpected error: KeyError"
    assert failed.partial_text == "so far"
    assert all(isinstance(seat_events(events, seat)[-1], SeatDone) for seat in (1, 2))


@pytest.mark.asyncio
async def test_an_unexpected_error_is_logged_with_its_traceback(
    fake: FakeModelClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script("alpha/one", KeyError("bug in a client"))
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    script_judge_and_writer(fake)

    await collect(run_fusion(make_request(SEATS), fake))

    [record] = [r for r in caplog.records if r.name == "chat.fusion.calls"]
    assert "alpha/one" in record.getMessage()
    assert record.exc_info is not None
