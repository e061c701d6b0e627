"""The provider client against the running simulator, over real loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from chat.providers.catalog import fetch_catalog
from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.types import ChatRequest, StreamEnd, TextDelta, UsageReport
from chat.simulator import Simulator

QUESTION = [{"role": "user", "content": "Which database should a small team pick?"}]


async def collect(client: OpenAICompatibleClient, model: str) -> tuple[str, list[object]]:
    events = [event async for event in client.stream(ChatRequest(model=model, messages=QUESTION))]
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    return text, events


@pytest.mark.asyncio
async def test_it_streams_a_whole_answer_with_usage_and_cost(client: OpenAICompatibleClient) -> None:
    text, events = await collect(client, "openai/gpt-5.5")
    usage = next(event.usage for event in events if isinstance(event, UsageReport))
    assert len(text) > 200
    assert usage.completion_tokens > 0 and usage.cost is not None and usage.cost > 0
    assert events[-1] == StreamEnd(complete=True, finish_reason="stop")


@pytest.mark.asyncio
async def test_it_reads_the_simulators_catalog(sim: Simulator, http: httpx.AsyncClient) -> None:
    models = {model.id: model for model in await fetch_catalog(sim.endpoint(), http)}
    assert models["anthropic/claude-opus-4.8"].prompt_price is not None
    assert models["anthropic/claude-opus-4.8"].supports_structured_output
    assert not models["meta-llama/llama-4-maverick"].supports_tools


@pytest.mark.asyncio
async def test_a_rate_limit_is_retryable_and_carries_retry_after(
    sim: Simulator, client: OpenAICompatibleClient
) -> None:
    sim.configure("openai/gpt-5.5", fault="rate_limit", retry_after_s=7)
    with pytest.raises(ProviderError) as caught:
        await collect(client, "openai/gpt-5.5")
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (429, True, 7)


@pytest.mark.asyncio
async def test_a_bad_key_is_not_retryable(sim: Simulator, client: OpenAICompatibleClient) -> None:
    sim.configure("openai/gpt-5.5", fault="unauthorized")
    with pytest.raises(ProviderError) as caught:
        await collect(client, "openai/gpt-5.5")
    assert caught.value.status == 401 and not caught.value.retryable


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", ["malformed", "inband_error"])
async def test_a_broken_stream_raises_after_the_text_that_arrived(
    sim: Simulator, client: OpenAICompatibleClient, fault: str
) -> None:
    sim.configure("openai/gpt-5.5", fault=fault, fault_after_tokens=5)
    received: list[str] = []
    with pytest.raises(ProviderError):
        async for event in client.stream(ChatRequest(model="openai/gpt-5.5", messages=QUESTION)):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert len(received) == 5


@pytest.mark.asyncio
async def test_an_unknown_model_is_explained(client: OpenAICompatibleClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(client, "nobody/no-such-model")
    assert caught.value.status == 404


@pytest.mark.asyncio
async def test_a_stream_cut_before_done_keeps_its_text_and_says_so(
    sim: Simulator, client: OpenAICompatibleClient
) -> None:
    sim.configure("openai/gpt-5.5", fault="cut", fault_after_tokens=5)
    _, events = await collect(client, "openai/gpt-5.5")
    assert len([event for event in events if isinstance(event, TextDelta)]) == 5
    assert events[-1] == StreamEnd(complete=False, finish_reason=None)
