"""Stopping a run: closing its generator or cancelling its task leaves no seat and no stream behind."""

from __future__ import annotations

import asyncio

import pytest

from chat.fusion.events import AnalysisStarted, Event, FusedDelta, SeatDelta
from chat.fusion.pipeline import run_fusion
from chat.providers.types import StreamEnd, TextDelta
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer

from .conftest import collect, make_request


def other_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def script_held_seats(fake: FakeModelClient, gate: asyncio.Event) -> None:
    for model in SEATS:
        fake.script(model, [TextDelta(text=f"{model} begins"), gate, StreamEnd(complete=True)])


@pytest.mark.asyncio
async def test_closing_the_run_mid_fan_out_cancels_every_seat_and_closes_its_stream(
    fake: FakeModelClient,
) -> None:
    script_held_seats(fake, asyncio.Event())
    events = run_fusion(make_request(SEATS), fake)
    started: set[int] = set()
    async with asyncio.timeout(5):
        async for event in events:
            if isinstance(event, SeatDelta):
                started.add(event.seat)
            if len(started) == len(SEATS):
                break

    await events.aclose()

    assert sorted(fake.interrupted) == sorted(SEATS)
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_cancelling_the_consuming_task_cancels_every_seat_and_closes_its_stream(
    fake: FakeModelClient,
) -> None:
    script_held_seats(fake, asyncio.Event())
    run = asyncio.create_task(collect(run_fusion(make_request(SEATS), fake)))
    async with asyncio.timeout(5):
        await fake.wait_for_requests(len(SEATS))

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert sorted(fake.interrupted) == sorted(SEATS)
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_cancelling_during_the_judge_closes_the_judges_stream(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", [TextDelta(text="{"), asyncio.Event(), StreamEnd(complete=True)])
    run = asyncio.create_task(collect(run_fusion(make_request(SEATS[:2]), fake)))
    async with asyncio.timeout(5):
        await fake.wait_for_requests(3)

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert fake.interrupted == ["judge/j"]
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_closing_the_run_while_the_writer_streams_closes_the_writers_stream(
    fake: FakeModelClient,
) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("writer/w", [TextDelta(text="The sky"), asyncio.Event(), StreamEnd(complete=True)])
    events = run_fusion(make_request(SEATS[:2], writer="writer/w"), fake)
    seen: list[Event] = []
    async with asyncio.timeout(5):
        async for event in events:
            seen.append(event)
            if isinstance(event, FusedDelta):
                break

    await events.aclose()

    assert any(isinstance(e, AnalysisStarted) for e in seen)
    assert fake.interrupted == ["writer/w"]
    assert other_tasks() == set()
