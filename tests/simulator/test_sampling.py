"""The simulator honours a request's temperature and seed, as a sampling model would."""

from __future__ import annotations

import difflib
from typing import Any

import httpx
import pytest

from chat.providers.types import SEAT_HEADER
from tests.simulator.helpers import ask, stream_answer

OPUS = "anthropic/claude-opus-4.8"
DEEPSEEK = "deepseek/deepseek-v4-pro"  # streams its reasoning first


async def answer(client: httpx.AsyncClient, seat: int | None = None, **sampling: Any) -> str:
    headers = {SEAT_HEADER: str(seat)} if seat is not None else None
    return (await stream_answer(client, ask(OPUS, **sampling), headers=headers)).text


def stance_of(text: str) -> str:
    return text.split("### Where I come down\n\n", 1)[1].split(" I would expect", 1)[0]


def distance(first: str, second: str) -> float:
    """How much of two answers differs, line by line: 0 for the same text."""
    return 1 - difflib.SequenceMatcher(None, first.splitlines(), second.splitlines()).ratio()


@pytest.mark.asyncio
async def test_different_seeds_give_different_answers(client: httpx.AsyncClient) -> None:
    first = await answer(client, seed=1, temperature=1)
    second = await answer(client, seed=2, temperature=1)

    assert first != second


@pytest.mark.asyncio
async def test_the_same_seed_and_temperature_give_the_same_answer_on_any_seat(
    client: httpx.AsyncClient,
) -> None:
    first = await answer(client, seat=1, seed=7, temperature=0.8)
    again = await answer(client, seat=1, seed=7, temperature=0.8)
    other_seat = await answer(client, seat=3, seed=7, temperature=0.8)

    assert first == again == other_seat
    assert first != await answer(client, seat=1, temperature=0.8)  # the seed, not the seat, chose


@pytest.mark.asyncio
async def test_temperature_zero_gives_the_models_one_text_whatever_the_seat_or_seed(
    client: httpx.AsyncClient,
) -> None:
    canonical = await answer(client)

    assert await answer(client, seat=2, temperature=0) == canonical
    assert await answer(client, seat=3, seed=11, temperature=0) == canonical
    assert await answer(client, seat=2, temperature=0.5) != canonical


@pytest.mark.asyncio
async def test_a_hotter_answer_strays_further_from_the_models_own(client: httpx.AsyncClient) -> None:
    canonical = await answer(client, temperature=0)
    strayed = {}
    for temperature in (0.2, 0.5, 1.0):
        answers = [await answer(client, seed=seed, temperature=temperature) for seed in range(8)]
        strayed[temperature] = sum(distance(canonical, text) for text in answers)

    assert 0 < strayed[0.2] < strayed[0.5] < strayed[1.0]


@pytest.mark.asyncio
async def test_only_above_temperature_one_may_a_model_argue_another_side(client: httpx.AsyncClient) -> None:
    own_side = stance_of(await answer(client, temperature=0))
    at_one = {stance_of(await answer(client, seed=seed, temperature=1)) for seed in range(8)}
    at_two = {stance_of(await answer(client, seed=seed, temperature=2)) for seed in range(8)}

    assert at_one == {own_side}
    assert at_two - {own_side}


@pytest.mark.asyncio
async def test_seats_without_a_seed_still_differ_by_default(client: httpx.AsyncClient) -> None:
    texts = {await answer(client, seat=seat) for seat in range(4)}

    assert len(texts) == 4


@pytest.mark.asyncio
async def test_the_reasoning_follows_the_seed_too(client: httpx.AsyncClient) -> None:
    async def reasoning(**sampling: Any) -> str:
        return (await stream_answer(client, ask(DEEPSEEK, **sampling))).reasoning

    cold = {await reasoning(seed=seed, temperature=0) for seed in range(6)}
    hot = {await reasoning(seed=seed, temperature=1) for seed in range(6)}

    assert len(cold) == 1
    assert len(hot) > 1


@pytest.mark.asyncio
async def test_a_temperature_out_of_range_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=ask(OPUS, temperature=2.5))

    assert response.status_code == 400
    assert "temperature" in response.text
