"""The whole pipeline against the simulator: real HTTP, real concurrency, real JSON."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from chat.fusion.events import AnalysisReady, Event, FusedDone, RunDone, SeatDone, SeatFailed
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import FusionRequest
from chat.providers.catalog import fetch_catalog
from chat.providers.client import OpenAICompatibleClient
from chat.simulator import Simulator

BUDGET = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]


async def budget_request(sim: Simulator, http: httpx.AsyncClient, **changes: object) -> FusionRequest:
    catalog = {model.id: model for model in await fetch_catalog(sim.endpoint(), http)}
    fields: dict[str, object] = {
        "messages": [{"role": "user", "content": "How should a team of five plan a database migration?"}],
        "seats": BUDGET,
        "judge": "google/gemini-3-flash-preview",
        "catalog": catalog,
    }
    return FusionRequest.model_validate(fields | changes)


async def run_all(request: FusionRequest, client: OpenAICompatibleClient) -> list[Event]:
    return [event async for event in run_fusion(request, client)]


@pytest.mark.asyncio
async def test_every_seat_is_asked_before_any_seat_finishes(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    for model in BUDGET:
        sim.hold(model)
    run = asyncio.create_task(run_all(await budget_request(sim, http), client))
    await sim.wait_for_requests(3, timeout=10)
    assert not any(record.finished for record in sim.requests)
    sim.release()
    events = await run
    seat_requests = sim.requests[:3]
    last_arrival = max(record.received_at for record in seat_requests)
    first_finish = min(record.finished_at or 0 for record in seat_requests)
    assert last_arrival < first_finish
    assert isinstance(events[-1], RunDone) and events[-1].status == "done"


@pytest.mark.asyncio
async def test_a_full_run_judges_with_structured_output_and_fuses(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    events = await run_all(await budget_request(sim, http), client)
    analysis = next(event for event in events if isinstance(event, AnalysisReady)).analysis
    judge_body = sim.requests[3].body
    assert judge_body["response_format"]["json_schema"]["name"] == "fusion_analysis"
    assert judge_body["temperature"] == 0
    assert analysis.consensus and {seat for point in analysis.consensus for seat in point.seats} <= {0, 1, 2}
    fused = next(event for event in events if isinstance(event, FusedDone))
    assert fused.text and "tools" not in sim.requests[-1].body


@pytest.mark.asyncio
async def test_a_judge_without_structured_output_is_parsed_from_its_text(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    request = await budget_request(sim, http, judge="qwen/qwen3-235b-a22b")
    events = await run_all(request, client)
    assert "response_format" not in sim.requests[3].body
    assert any(isinstance(event, AnalysisReady) for event in events)


@pytest.mark.asyncio
async def test_a_failing_seat_is_reported_and_the_run_goes_on(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    sim.configure("moonshotai/kimi-k2.6", fault="server_error")
    events = await run_all(await budget_request(sim, http), client)
    failed = [event for event in events if isinstance(event, SeatFailed)]
    done = [event for event in events if isinstance(event, SeatDone)]
    assert [event.seat for event in failed] == [1] and failed[0].reason
    assert len(done) == 2
    assert isinstance(events[-1], RunDone) and events[-1].status == "done"
    assert "seat 2" in events[-1].note.lower()


@pytest.mark.asyncio
async def test_the_totals_add_up_every_call(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    events = await run_all(await budget_request(sim, http), client)
    totals = events[-1].totals if isinstance(events[-1], RunDone) else None
    completed = [record for record in sim.requests if record.outcome == "completed"]
    assert totals is not None and len(completed) == 5
    assert totals.completion_tokens == sum(record.completion_tokens for record in completed)
    assert totals.cost is not None and totals.cost > 0


@pytest.mark.asyncio
async def test_two_seats_of_one_model_write_different_answers(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    model = "openai/gpt-5.5"
    request = await budget_request(sim, http, seats=[model, model])

    events = await run_all(request, client)

    answers = {event.seat: event.text for event in events if isinstance(event, SeatDone)}
    assert answers[0] and answers[1] and answers[0] != answers[1]
    assert sorted(record.seat for record in sim.requests[:2]) == [0, 1]
    assert sim.requests[2].seat is None  # the judge answers for no seat
