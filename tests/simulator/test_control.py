"""Steering the simulator from a test: holds, waiting for requests, pacing and a prompt stop."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError

from chat.simulator import SimulatedModel, Simulator, SimulatorThread

from .helpers import Stream, ask, read_sse, stream_answer

OPUS = "anthropic/claude-opus-4.8"
GPT = "openai/gpt-5.5"
GEMINI = "google/gemini-3.1-pro-preview"


@pytest.mark.asyncio
async def test_a_held_model_sends_no_token_until_released(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.hold(OPUS)
    held = asyncio.create_task(stream_answer(client, ask(OPUS)))
    await sim.wait_for_requests(1, model=OPUS)

    free = await stream_answer(client, ask(GPT))

    assert free.done
    assert sim.requests[0].first_token_at is None
    sim.release(OPUS)
    assert (await held).done


@pytest.mark.asyncio
async def test_holding_every_seat_proves_they_all_arrived_before_any_finished(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    seats = [OPUS, GPT, GEMINI]
    for model in seats:
        sim.hold(model)
    answers = [asyncio.create_task(stream_answer(client, ask(model))) for model in seats]

    await sim.wait_for_requests(3)
    sim.release()
    await asyncio.gather(*answers)

    records = sim.requests
    assert max(r.received_at for r in records) < min(r.finished_at or 0.0 for r in records)


@pytest.mark.asyncio
async def test_wait_for_requests_returns_the_requests_for_that_model(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await stream_answer(client, ask(GPT))
    await stream_answer(client, ask(OPUS))

    [record] = await sim.wait_for_requests(1, model=OPUS)

    assert record.model == OPUS


@pytest.mark.asyncio
async def test_waiting_for_requests_that_never_come_times_out(sim: Simulator) -> None:
    with pytest.raises(TimeoutError):
        await sim.wait_for_requests(1, timeout=0.05)


@pytest.mark.asyncio
async def test_wait_until_sees_a_request_finish(sim: Simulator, client: httpx.AsyncClient) -> None:
    answer = asyncio.create_task(stream_answer(client, ask(OPUS)))

    records = await sim.wait_until(lambda records: any(r.outcome == "completed" for r in records))

    assert records[0].finished
    await answer


@pytest.mark.asyncio
async def test_configure_rejects_an_unknown_fault(sim: Simulator) -> None:
    with pytest.raises(ValidationError):
        sim.configure(OPUS, fault="gremlins")


@pytest.mark.asyncio
async def test_configure_rejects_an_unknown_model(sim: Simulator) -> None:
    with pytest.raises(KeyError):
        sim.configure("nobody/nothing-1", fault="hang")


@pytest.mark.asyncio
async def test_time_to_first_token_follows_the_model_and_the_time_scale() -> None:
    slow = SimulatedModel(id="local/slow", name="Slow (simulated)", ttft_s=10.0, answer_tokens=5)
    async with (
        Simulator([slow], time_scale=0.01, keepalive_s=0.02) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        stream = await stream_answer(http, ask(slow.id))

    [record] = sim.requests
    assert record.ttft_s is not None and record.ttft_s >= 0.1
    assert len(stream.comments) >= 2  # keep-alives while it "thought"


@pytest.mark.asyncio
async def test_stop_returns_promptly_with_open_requests() -> None:
    sim = Simulator(time_scale=0)
    await sim.start()
    sim.configure(OPUS, fault="hang")
    sim.configure(GPT, fault="stall")
    sim.hold(GEMINI)
    streams = [Stream(), Stream(), Stream()]

    async def read(model: str, into: Stream) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http,
            http.stream("POST", f"{sim.base_url}/chat/completions", json=ask(model, stream=True)) as response,
        ):
            await read_sse(response, into=into)

    readers = [asyncio.create_task(read(m, s)) for m, s in zip([OPUS, GPT, GEMINI], streams, strict=True)]
    await sim.wait_for_requests(3)

    async with asyncio.timeout(3):
        await sim.stop()
        await asyncio.gather(*readers, return_exceptions=True)

    assert all(record.outcome == "shutdown" for record in sim.requests)
    assert not any(stream.done for stream in streams)


def test_the_simulator_runs_in_a_thread_for_synchronous_callers() -> None:
    with SimulatorThread(time_scale=0) as thread, httpx.Client(base_url=thread.base_url) as http:
        listing = http.get("/models")
        answer = http.post("/chat/completions", json=ask(OPUS))
        [record] = thread.wait_for_requests(1, timeout=5)

    assert listing.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"].startswith("## ")
    assert record.outcome == "completed"


def test_a_thread_simulator_can_be_steered_from_outside() -> None:
    with SimulatorThread(time_scale=0) as thread, httpx.Client(base_url=thread.base_url) as http:
        thread.configure(OPUS, fault="server_error", fault_times=1)
        statuses = [http.post("/chat/completions", json=ask(OPUS)).status_code for _ in range(2)]

    assert statuses == [500, 200]


@pytest.mark.asyncio
async def test_reset_restores_the_models_it_started_with(sim: Simulator) -> None:
    original = sim.models["openai/gpt-5.5"]
    sim.configure("openai/gpt-5.5", fault="server_error", answer_tokens=3)
    sim.reset()
    assert sim.models["openai/gpt-5.5"] == original


@pytest.mark.asyncio
async def test_a_hold_mid_stream_pauses_after_that_many_tokens(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.hold(GPT, after_tokens=4)
    answer = asyncio.create_task(stream_answer(client, ask(GPT)))
    await sim.wait_until(lambda records: bool(records) and records[0].completion_tokens == 4)
    assert not sim.requests[0].finished
    sim.release(GPT)
    await answer
    assert sim.requests[0].completion_tokens > 4 and sim.requests[0].outcome == "completed"
