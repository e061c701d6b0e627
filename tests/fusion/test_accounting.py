"""Tokens, cost and time: per call, and summed over every call of a run."""

from __future__ import annotations

import pytest

from chat.fusion.events import AnalysisReady, Event, FusedDone, RunDone, SeatDone, SeatFailed
from chat.fusion.pipeline import run_fusion
from chat.providers.types import StreamEnd, TextDelta
from tests.fakes import FakeClock, FakeModelClient, Tick, analysis_json, answer

from .conftest import collect, make_request, model_info

SEATS = ("alpha/one", "beta/two")


def seat_done(events: list[Event], seat: int) -> SeatDone:
    [done] = [e for e in events if isinstance(e, SeatDone) and e.seat == seat]
    return done


def run_done(events: list[Event]) -> RunDone:
    done = events[-1]
    assert isinstance(done, RunDone)
    return done


def script_judge_and_writer(fake: FakeModelClient) -> None:
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))


@pytest.mark.asyncio
async def test_the_providers_own_cost_wins_over_catalog_prices(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a", prompt_tokens=100, completion_tokens=50, cost=0.25))
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)
    catalog = {"alpha/one": model_info("alpha/one", prompt_price=1.0, completion_price=1.0)}

    events = await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    assert seat_done(events, 0).stats.cost == 0.25


@pytest.mark.asyncio
async def test_without_a_reported_cost_catalog_prices_are_used(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a", prompt_tokens=100, completion_tokens=50))
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)
    catalog = {"alpha/one": model_info("alpha/one", prompt_price=0.001, completion_price=0.002)}

    events = await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    assert seat_done(events, 0).stats.cost == pytest.approx(100 * 0.001 + 50 * 0.002)


@pytest.mark.asyncio
async def test_without_a_reported_cost_or_a_price_the_cost_is_unknown(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)
    catalog = {"alpha/one": model_info("alpha/one")}

    events = await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    assert seat_done(events, 0).stats.cost is None
    assert run_done(events).totals.cost is None


@pytest.mark.asyncio
async def test_without_usage_a_known_price_still_gives_no_cost(fake: FakeModelClient) -> None:
    fake.script("alpha/one", [TextDelta(text="a"), StreamEnd(complete=True)])
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)
    catalog = {"alpha/one": model_info("alpha/one", prompt_price=1.0, completion_price=1.0)}

    events = await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    stats = seat_done(events, 0).stats
    assert (stats.prompt_tokens, stats.completion_tokens, stats.cost) == (0, 0, None)


@pytest.mark.asyncio
async def test_totals_sum_every_call_including_the_repair(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a", prompt_tokens=1, completion_tokens=2, cost=0.1))
    fake.script("beta/two", answer("b", prompt_tokens=10, completion_tokens=20, cost=0.2))
    fake.script("judge/j", answer("not json", prompt_tokens=100, completion_tokens=200, cost=0.4))
    fake.script("judge/j", answer(analysis_json(), prompt_tokens=1000, completion_tokens=2000, cost=0.8))
    fake.script("writer/w", answer("Fused.", prompt_tokens=10000, completion_tokens=20000, cost=1.6))

    events = await collect(run_fusion(make_request(SEATS, writer="writer/w"), fake))

    totals = run_done(events).totals
    assert (totals.prompt_tokens, totals.completion_tokens) == (11111, 22222)
    assert totals.cost == pytest.approx(3.1)


@pytest.mark.asyncio
async def test_totals_count_the_calls_whose_cost_is_known(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a", cost=0.5))
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert run_done(events).totals.cost == 0.5


@pytest.mark.asyncio
async def test_max_tokens_goes_on_every_call(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer("not json"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("writer/w", answer("Fused."))

    await collect(run_fusion(make_request(SEATS, writer="writer/w", max_tokens=777), fake))

    assert len(fake.requests) == 5
    assert {request.max_tokens for request in fake.requests} == {777}


@pytest.mark.asyncio
async def test_time_to_first_token_and_duration_are_measured_per_call(
    fake: FakeModelClient, clock: FakeClock
) -> None:
    fake.script("alpha/one", [Tick(0.2), TextDelta(text="a"), Tick(0.3), StreamEnd(complete=True)])
    fake.script("beta/two", answer("b"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request(SEATS), fake, clock=clock))

    stats = seat_done(events, 0).stats
    assert stats.ttft_ms == pytest.approx(200)
    assert stats.duration_ms == pytest.approx(500)


@pytest.mark.asyncio
async def test_a_call_without_text_has_no_time_to_first_token(
    fake: FakeModelClient, clock: FakeClock
) -> None:
    fake.script("alpha/one", [Tick(1), StreamEnd(complete=True)])
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    script_judge_and_writer(fake)

    events = await collect(run_fusion(make_request((*SEATS, "gamma/three")), fake, clock=clock))

    [failed] = [e for e in events if isinstance(e, SeatFailed)]
    assert failed.stats.ttft_ms is None
    assert failed.stats.duration_ms == pytest.approx(1000)


@pytest.mark.asyncio
async def test_the_run_lasts_the_wall_time_of_all_its_stages(fake: FakeModelClient, clock: FakeClock) -> None:
    fake.script("alpha/one", [Tick(1.0), *answer("a")])
    fake.script("beta/two", [Tick(2.0), *answer("b")])
    fake.script("judge/j", [Tick(0.5), *answer(analysis_json())])
    fake.script("judge/j", [Tick(0.25), *answer("Fused.")])

    events = await collect(run_fusion(make_request(SEATS), fake, clock=clock))

    judged = next(e for e in events if isinstance(e, AnalysisReady))
    fused = next(e for e in events if isinstance(e, FusedDone))
    assert [judged.stats.duration_ms, fused.stats.duration_ms] == pytest.approx([500, 250])
    assert run_done(events).totals.duration_ms == pytest.approx(3750)
