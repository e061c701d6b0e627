"""JSON answers: structured output against a schema, fenced JSON for the tolerant path, and repairs."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from chat.simulator import Simulator

from .helpers import stream_answer

JUDGE = "anthropic/claude-opus-4.8"
NO_STRUCTURED_OUTPUT = "qwen/qwen3-235b-a22b"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_Strict):
    point: str
    responses: list[str]


class Stance(_Strict):
    response: str
    stance: str


class Contradiction(_Strict):
    topic: str
    stances: list[Stance]
    assessment: str


class Insight(_Strict):
    response: str
    insight: str
    why_it_matters: str


class FusionAnalysis(_Strict):
    consensus: list[Point]
    contradictions: list[Contradiction]
    partial_coverage: list[Point]
    unique_insights: list[Insight]
    blind_spots: list[str]


JUDGE_PROMPT = """Question: Should we adopt event sourcing for our billing system?

Response A:
Yes, but start with one bounded context.

Response B:
No, a plain audit table is enough.

Response C:
It depends on the reporting needs.

Compare the responses and return the analysis as JSON."""


def schema_format(name: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def judge_request(model: str = JUDGE, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": JUDGE_PROMPT}],
        "temperature": 0,
        **extra,
    }


def fenced_json(text: str) -> Any:
    match = re.search(r"```json\n(.*?)\n```", text, re.DOTALL)
    assert match, text
    return json.loads(match.group(1))


@pytest.mark.asyncio
async def test_a_fusion_analysis_is_valid_against_its_schema(client: httpx.AsyncClient) -> None:
    body = judge_request(response_format=schema_format("fusion_analysis", FusionAnalysis))

    stream = await stream_answer(client, body)

    FusionAnalysis.model_validate_json(stream.text)


@pytest.mark.asyncio
async def test_a_fusion_analysis_names_answers_by_the_prompts_labels(client: httpx.AsyncClient) -> None:
    body = judge_request(response_format=schema_format("fusion_analysis", FusionAnalysis))

    analysis = FusionAnalysis.model_validate_json((await stream_answer(client, body)).text)

    named = {label for point in analysis.consensus + analysis.partial_coverage for label in point.responses}
    named |= {stance.response for c in analysis.contradictions for stance in c.stances}
    named |= {insight.response for insight in analysis.unique_insights}
    assert named == {"A", "B", "C"}
    assert all(set(point.responses) == {"A", "B", "C"} for point in analysis.consensus)


@pytest.mark.asyncio
async def test_a_contradiction_sets_different_stances_side_by_side(client: httpx.AsyncClient) -> None:
    body = judge_request(response_format=schema_format("fusion_analysis", FusionAnalysis))

    analysis = FusionAnalysis.model_validate_json((await stream_answer(client, body)).text)

    assert analysis.contradictions
    for contradiction in analysis.contradictions:
        assert [stance.response for stance in contradiction.stances] == ["A", "B", "C"]
        assert len({stance.stance for stance in contradiction.stances}) >= 2


class SeatPoint(_Strict):
    point: str
    seats: list[int]


class SeatAnalysis(_Strict):
    consensus: list[SeatPoint]
    blind_spots: list[str]


@pytest.mark.asyncio
async def test_seat_indexes_in_an_analysis_stay_within_the_panel(client: httpx.AsyncClient) -> None:
    body = judge_request(response_format=schema_format("fusion_analysis", SeatAnalysis))

    analysis = SeatAnalysis.model_validate_json((await stream_answer(client, body)).text)

    assert {seat for point in analysis.consensus for seat in point.seats} == {0, 1, 2}


class Address(_Strict):
    street: str
    city: str
    postcode: str = Field(min_length=4, max_length=8)


class Tag(_Strict):
    label: str
    weight: float = Field(ge=0, le=1)


class Company(_Strict):
    name: str
    founded: int = Field(ge=1900, le=2026)
    kind: Literal["startup", "enterprise", "nonprofit"]
    public: bool
    website: str | None
    headquarters: Address
    offices: list[Address] = Field(min_length=1, max_length=3)
    tags: list[Tag]
    aliases: list[str] = Field(min_length=2)
    rating: float | None = Field(default=None, gt=0, lt=5)


@pytest.mark.asyncio
async def test_a_generic_schema_gets_a_valid_instance(client: httpx.AsyncClient) -> None:
    body = {
        "model": "openai/gpt-5.5",
        "messages": [{"role": "user", "content": "Describe a company."}],
        "response_format": schema_format("company", Company),
    }

    stream = await stream_answer(client, body)

    Company.model_validate_json(stream.text)


@pytest.mark.asyncio
async def test_the_same_schema_request_gets_the_same_json(client: httpx.AsyncClient) -> None:
    body = judge_request(response_format=schema_format("fusion_analysis", FusionAnalysis))

    first, second = await stream_answer(client, body), await stream_answer(client, body)

    assert first.text == second.text


@pytest.mark.asyncio
async def test_json_object_mode_answers_chatter_and_a_fenced_block(client: httpx.AsyncClient) -> None:
    stream = await stream_answer(client, judge_request(response_format={"type": "json_object"}))

    assert not stream.text.startswith("```")
    assert "consensus" in fenced_json(stream.text)


@pytest.mark.asyncio
async def test_a_model_without_structured_output_fences_the_schema_it_was_asked_for(
    client: httpx.AsyncClient,
) -> None:
    body = judge_request(
        NO_STRUCTURED_OUTPUT, response_format=schema_format("fusion_analysis", FusionAnalysis)
    )

    stream = await stream_answer(client, body)

    FusionAnalysis.model_validate(fenced_json(stream.text))


@pytest.mark.asyncio
async def test_a_schema_spelled_out_in_the_prompt_is_followed(client: httpx.AsyncClient) -> None:
    schema = json.dumps(FusionAnalysis.model_json_schema())
    prompt = f"{JUDGE_PROMPT}\nReply only with JSON matching this schema:\n{schema}"
    body = {"model": NO_STRUCTURED_OUTPUT, "messages": [{"role": "user", "content": prompt}]}

    stream = await stream_answer(client, body)

    FusionAnalysis.model_validate(fenced_json(stream.text))


@pytest.mark.asyncio
async def test_bad_json_is_invalid_once_then_valid(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(JUDGE, fault="bad_json")
    body = judge_request(response_format=schema_format("fusion_analysis", FusionAnalysis))

    broken = await stream_answer(client, body)
    repaired = await stream_answer(client, body)

    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    FusionAnalysis.model_validate_json(repaired.text)


@pytest.mark.asyncio
async def test_bad_json_leaves_prose_requests_alone(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.configure(JUDGE, fault="bad_json")
    prose = {"model": JUDGE, "messages": [{"role": "user", "content": "What is event sourcing?"}]}

    await stream_answer(client, prose)
    broken = await stream_answer(client, judge_request(response_format=schema_format("x", FusionAnalysis)))

    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
