"""Each fault a model can be told to inject, as a client sees it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chat.simulator import Simulator

from .helpers import Stream, ask, read_sse, stream_answer

MODEL = "moonshotai/kimi-k2.6"


async def post(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    """POST a question to MODEL; `extra` goes into the body."""
    return await client.post("/chat/completions", json=ask(MODEL, **extra))


@pytest.mark.asyncio
async def test_a_rate_limit_sends_retry_after_then_clears(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="rate_limit", fault_times=2, retry_after_s=3)

    statuses = [(await post(client)).status_code for _ in range(3)]

    assert statuses == [429, 429, 200]


@pytest.mark.asyncio
async def test_a_rate_limited_response_carries_retry_after(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="rate_limit", retry_after_s=3)

    response = await post(client)

    assert response.headers["Retry-After"] == "3"
    assert response.json() == {"error": {"message": response.json()["error"]["message"], "code": 429}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "status"),
    [("server_error", 500), ("unauthorized", 401), ("no_credits", 402), ("context_length", 400)],
)
async def test_an_http_fault_answers_its_status_with_an_error_body(
    sim: Simulator, client: httpx.AsyncClient, fault: str, status: int
) -> None:
    sim.configure(MODEL, fault=fault)

    response = await post(client, stream=True)

    assert response.status_code == status
    assert response.json()["error"]["code"] == status


@pytest.mark.asyncio
async def test_a_context_length_fault_says_the_prompt_is_too_long(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="context_length")

    response = await post(client)

    assert "maximum context length" in response.json()["error"]["message"]


@pytest.mark.asyncio
async def test_a_fault_counts_per_model(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="server_error", fault_times=1)

    other = await client.post("/chat/completions", json=ask("openai/gpt-5.5"))
    first, second = await post(client), await post(client)

    assert (other.status_code, first.status_code, second.status_code) == (200, 500, 200)


@pytest.mark.asyncio
async def test_a_cut_stream_ends_without_usage_or_done(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="cut", fault_after_tokens=4)

    async with client.stream("POST", "/chat/completions", json=ask(MODEL, stream=True)) as response:
        stream = await read_sse(response)

    assert len(stream.deltas) == 4
    assert stream.usage is None
    assert not stream.done
    assert sim.requests[-1].outcome == "cut"


@pytest.mark.asyncio
async def test_a_malformed_stream_sends_an_event_that_is_not_json(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="malformed", fault_after_tokens=3)

    async with client.stream("POST", "/chat/completions", json=ask(MODEL, stream=True)) as response:
        stream = await read_sse(response)

    assert stream.data[-1] == "{not json"
    assert [json.loads(item) for item in stream.data[:3]]
    assert not stream.done


@pytest.mark.asyncio
async def test_an_inband_error_arrives_inside_a_200_stream(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="inband_error", fault_after_tokens=3)

    async with client.stream("POST", "/chat/completions", json=ask(MODEL, stream=True)) as response:
        stream = await read_sse(response)

    assert response.status_code == 200
    last = json.loads(stream.data[-1])
    assert last["error"]["code"] == 502
    assert last["choices"][0]["finish_reason"] == "error"
    assert len(stream.text) > 0
    assert not stream.done


@pytest.mark.asyncio
async def test_a_hanging_model_sends_nothing_until_the_client_gives_up(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="hang")
    stream = Stream()

    with pytest.raises(httpx.ReadTimeout):
        async with client.stream(
            "POST", "/chat/completions", json=ask(MODEL, stream=True), timeout=httpx.Timeout(5.0, read=0.2)
        ) as response:
            await read_sse(response, into=stream)

    assert stream.data == []


@pytest.mark.asyncio
async def test_a_stalling_model_goes_quiet_after_a_few_tokens(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="stall", fault_after_tokens=5)
    stream = Stream()

    with pytest.raises(httpx.ReadTimeout):
        async with client.stream(
            "POST", "/chat/completions", json=ask(MODEL, stream=True), timeout=httpx.Timeout(5.0, read=0.2)
        ) as response:
            await read_sse(response, into=stream)

    assert len(stream.deltas) == 5


@pytest.mark.asyncio
async def test_a_hanging_whole_request_never_answers(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="hang")

    with pytest.raises(httpx.ReadTimeout):
        await client.post("/chat/completions", json=ask(MODEL), timeout=httpx.Timeout(5.0, read=0.2))


@pytest.mark.asyncio
async def test_a_whole_request_can_be_cut_short(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(MODEL, fault="cut")

    with pytest.raises(httpx.RemoteProtocolError):
        await post(client)


@pytest.mark.asyncio
async def test_a_whole_request_can_get_a_body_that_is_not_json(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="malformed")

    response = await post(client)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.asyncio
async def test_a_whole_request_can_get_an_error_with_status_200(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="inband_error")

    response = await post(client)

    assert response.status_code == 200
    assert response.json()["error"]["code"] == 502


@pytest.mark.asyncio
async def test_a_flood_answer_streams_its_text_repeated_to_length_then_ends(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.configure(
        MODEL, fault="flood_answer", fault_text="[\n", fault_body_bytes=5_001, tokens_per_second=1000
    )

    stream = await stream_answer(client, ask(MODEL))

    assert stream.text == ("[\n" * 2501)[:5_001]
    assert [len(delta.get("content") or "") for delta in stream.deltas if delta.get("content")] == [
        1000
    ] * 5 + [1]
    assert stream.done
    assert stream.chunks[-1]["usage"]["completion_tokens"] == 6
