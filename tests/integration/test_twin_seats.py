"""Two seats of one model (self-fusion) against the simulator: their settings make them differ."""

from __future__ import annotations

import httpx
import pytest

from chat.fusion.events import SeatDone
from chat.fusion.options import RunOptions, SeatOptions
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import FusionRequest
from chat.providers.catalog import fetch_catalog
from chat.providers.client import OpenAICompatibleClient
from chat.simulator import Simulator

MODEL = "mistralai/mistral-medium-3"


async def twin_answers(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient, *seats: SeatOptions
) -> list[str]:
    catalog = {model.id: model for model in await fetch_catalog(sim.endpoint(), http)}
    request = FusionRequest(
        messages=[{"role": "user", "content": "Should a small team adopt event sourcing?"}],
        seats=[MODEL, MODEL],
        judge=MODEL,
        catalog=catalog,
        options=RunOptions(seats=list(seats), compare_only=True),
    )
    done = [event async for event in run_fusion(request, client) if isinstance(event, SeatDone)]
    return [event.text for event in sorted(done, key=lambda event: event.seat)]


@pytest.mark.asyncio
async def test_twin_seats_with_their_own_seeds_answer_differently(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    first, second = await twin_answers(sim, http, client, SeatOptions(seed=1), SeatOptions(seed=2))

    assert first != second
    assert sorted(record.body["seed"] for record in sim.requests) == [1, 2]


@pytest.mark.asyncio
async def test_twin_seats_at_temperature_zero_answer_alike(
    sim: Simulator, http: httpx.AsyncClient, client: OpenAICompatibleClient
) -> None:
    cold = SeatOptions(temperature=0)
    first, second = await twin_answers(sim, http, client, cold, cold)

    assert first == second
    default_first, default_second = await twin_answers(sim, http, client)
    assert default_first != default_second  # what temperature 0 took away
