"""GET /models in OpenRouter's shape, and the health check."""

from __future__ import annotations

import httpx
import pytest

from chat.simulator import DEFAULT_MODELS, SimulatedModel, Simulator

PRESET_MODELS = {
    "anthropic/claude-opus-4.8",
    "openai/gpt-5.5",
    "google/gemini-3.1-pro-preview",
    "google/gemini-3-flash-preview",
    "moonshotai/kimi-k2.6",
    "deepseek/deepseek-v4-pro",
}


@pytest.mark.asyncio
async def test_it_lists_models_in_openrouters_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/models")

    assert response.status_code == 200
    entries = response.json()["data"]
    assert {entry["id"] for entry in entries} >= PRESET_MODELS
    for entry in entries:
        assert {"id", "name", "context_length", "pricing", "supported_parameters", "description"} <= set(
            entry
        )
        assert isinstance(entry["pricing"]["prompt"], str)
        assert float(entry["pricing"]["completion"]) > 0
        assert "simulated" in entry["name"].lower()


@pytest.mark.asyncio
async def test_it_publishes_prices_per_token_as_plain_decimals(client: httpx.AsyncClient) -> None:
    entries = {entry["id"]: entry for entry in (await client.get("/models")).json()["data"]}

    assert entries["anthropic/claude-opus-4.8"]["pricing"] == {
        "prompt": "0.000005",
        "completion": "0.000025",
        "request": "0",
        "image": "0",
    }


@pytest.mark.asyncio
async def test_it_advertises_structured_output_only_where_the_model_supports_it(
    client: httpx.AsyncClient,
) -> None:
    entries = (await client.get("/models")).json()["data"]
    without = [e["id"] for e in entries if "response_format" not in e["supported_parameters"]]

    assert without
    assert not PRESET_MODELS & set(without)


def test_the_default_catalog_has_a_model_that_reasons_aloud() -> None:
    assert any(model.sends_reasoning for model in DEFAULT_MODELS)


@pytest.mark.asyncio
async def test_it_lists_models_added_at_runtime(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.add_model(SimulatedModel(id="local/tiny", name="Tiny (simulated)", context_length=4096))

    ids = [entry["id"] for entry in (await client.get("/models")).json()["data"]]

    assert "local/tiny" in ids


@pytest.mark.asyncio
async def test_it_answers_the_health_check(sim: Simulator, client: httpx.AsyncClient) -> None:
    response = await client.get(sim.base_url.removesuffix("/v1") + "/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
