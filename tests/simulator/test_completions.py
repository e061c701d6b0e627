"""POST /chat/completions: streamed and whole answers, usage, and refused requests."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from chat.providers.types import SEAT_HEADER
from chat.simulator import SimulatedModel, Simulator
from chat.simulator.replies import seat_of

from .helpers import ask, read_sse, stream_answer

OPUS = "anthropic/claude-opus-4.8"
FLASH = "google/gemini-3-flash-preview"
DEEPSEEK = "deepseek/deepseek-v4-pro"


@pytest.mark.asyncio
async def test_a_streamed_answer_ends_with_usage_then_done(client: httpx.AsyncClient) -> None:
    stream = await stream_answer(client, ask(OPUS))

    assert stream.done
    assert stream.finish_reason == "stop"
    assert stream.chunks[-1]["choices"] == []
    assert set(stream.chunks[-1]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost"}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in stream.chunks)


@pytest.mark.asyncio
async def test_it_sends_a_keep_alive_comment_before_the_first_token(client: httpx.AsyncClient) -> None:
    stream = await stream_answer(client, ask(OPUS))

    assert stream.comments[0] == "OPENROUTER PROCESSING"


@pytest.mark.asyncio
async def test_an_answer_is_markdown_with_a_heading_and_a_list(client: httpx.AsyncClient) -> None:
    text = (await stream_answer(client, ask(OPUS))).text

    assert text.startswith("## ")
    assert "\n- " in text
    assert "\n\n" in text


@pytest.mark.asyncio
async def test_the_same_question_gets_the_same_answer(client: httpx.AsyncClient) -> None:
    first = await stream_answer(client, ask(OPUS))
    second = await stream_answer(client, ask(OPUS))

    assert first.text == second.text


@pytest.mark.asyncio
async def test_different_models_answer_differently(client: httpx.AsyncClient) -> None:
    opus = await stream_answer(client, ask(OPUS))
    flash = await stream_answer(client, ask(FLASH))

    assert opus.text != flash.text


@pytest.mark.asyncio
async def test_a_whole_answer_matches_the_streamed_one(client: httpx.AsyncClient) -> None:
    streamed = await stream_answer(client, ask(OPUS))

    response = await client.post("/chat/completions", json=ask(OPUS))

    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == streamed.text
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"] == streamed.usage


@pytest.mark.asyncio
async def test_usage_counts_prompt_characters_and_streamed_tokens(client: httpx.AsyncClient) -> None:
    question = "How should a small team choose between two databases?"

    stream = await stream_answer(client, ask(OPUS, question))

    usage = stream.usage
    assert usage is not None
    assert usage["prompt_tokens"] == math.ceil(len(question) / 4)
    assert usage["completion_tokens"] == len(stream.deltas) - 1  # every delta but the finishing one
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    expected = usage["prompt_tokens"] * 5e-6 + usage["completion_tokens"] * 25e-6
    assert usage["cost"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.asyncio
async def test_a_reasoning_model_streams_its_reasoning_before_the_answer(client: httpx.AsyncClient) -> None:
    stream = await stream_answer(client, ask(DEEPSEEK))

    first_content = next(i for i, delta in enumerate(stream.deltas) if delta.get("content"))
    assert stream.reasoning
    assert all(not delta.get("reasoning") for delta in stream.deltas[first_content:])


@pytest.mark.asyncio
async def test_max_tokens_cuts_the_answer_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    stream = await stream_answer(client, ask(OPUS, max_tokens=7))

    assert stream.finish_reason == "length"
    assert stream.usage is not None
    assert stream.usage["completion_tokens"] == 7


@pytest.mark.asyncio
async def test_it_answers_404_for_an_unknown_model(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json=ask("nobody/nothing-1"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404
    assert "nobody/nothing-1" in response.json()["error"]["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({"model": OPUS}).encode(),
        json.dumps({"model": OPUS, "messages": []}).encode(),
        json.dumps({"model": OPUS, "messages": [{"role": "wizard", "content": "hi"}]}).encode(),
        json.dumps([1, 2, 3]).encode(),
    ],
)
async def test_it_answers_400_for_a_malformed_body(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/chat/completions", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


@pytest.mark.asyncio
async def test_a_prompt_longer_than_the_context_is_refused(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_model(SimulatedModel(id="local/tiny", name="Tiny (simulated)", context_length=10))

    response = await client.post("/chat/completions", json=ask("local/tiny", "word " * 100))

    assert response.status_code == 400
    assert "maximum context length is 10 tokens" in response.json()["error"]["message"]


@pytest.mark.asyncio
async def test_it_requires_the_api_key_when_given_one() -> None:
    async with Simulator(time_scale=0, api_key="sk-right") as sim, httpx.AsyncClient() as http:
        wrong = await http.post(
            f"{sim.base_url}/chat/completions", json=ask(OPUS), headers={"Authorization": "Bearer sk-wrong"}
        )
        right = await http.post(
            f"{sim.base_url}/chat/completions", json=ask(OPUS), headers={"Authorization": "Bearer sk-right"}
        )

    assert wrong.status_code == 401
    assert right.status_code == 200


@pytest.mark.asyncio
async def test_it_logs_each_request_with_its_timings(sim: Simulator, client: httpx.AsyncClient) -> None:
    body = ask(OPUS, stream=True)
    async with client.stream("POST", "/chat/completions", json=body) as response:
        await read_sse(response)

    [record] = sim.requests
    assert record.model == OPUS
    assert record.body == body
    assert record.stream
    assert record.outcome == "completed"
    assert record.first_token_at is not None and record.finished_at is not None
    assert record.received_at <= record.first_token_at <= record.finished_at


@pytest.mark.asyncio
async def test_two_seats_of_one_model_answer_differently(client: httpx.AsyncClient) -> None:
    first = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "0"})
    second = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "1"})

    assert first.text != second.text


@pytest.mark.asyncio
async def test_the_same_seat_of_one_model_answers_the_same(client: httpx.AsyncClient) -> None:
    first = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "2"})
    second = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "2"})

    assert first.text == second.text


@pytest.mark.asyncio
async def test_a_seat_keeps_its_models_stance(client: httpx.AsyncClient) -> None:
    first = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "0"})
    second = await stream_answer(client, ask(OPUS), headers={SEAT_HEADER: "3"})

    assert stance_of(first.text) == stance_of(second.text)


def stance_of(text: str) -> str:
    return text.split("### Where I come down\n\n", 1)[1].split(" I would expect", 1)[0]


def test_a_request_without_a_sound_seat_header_has_no_seat() -> None:
    assert [
        seat_of({}),
        seat_of({SEAT_HEADER: "x"}),
        seat_of({SEAT_HEADER: "-1"}),
        seat_of({SEAT_HEADER: "4"}),
    ] == [
        None,
        None,
        None,
        4,
    ]
