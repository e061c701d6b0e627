"""The JSON Schema walker on its own: what pydantic emits, and the awkward corners."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from chat.simulator.json_schema import SchemaError, SchemaFaker


def instance_of(schema: dict[str, Any], seed: int = 1) -> Any:
    return SchemaFaker(schema, random.Random(seed)).instance()


class Node(BaseModel):
    name: str
    children: list[Node] = []
    parent: Node | None = None


class Bounded(BaseModel):
    below_zero: int = Field(le=-5)
    above: float = Field(gt=100)
    between: int = Field(ge=3, le=3)
    tags: list[str] = Field(min_length=4, max_length=4)


def test_a_recursive_schema_gets_a_finite_valid_tree() -> None:
    Node.model_validate(instance_of(Node.model_json_schema()))


@pytest.mark.parametrize("seed", range(5))
def test_numbers_and_lengths_respect_their_bounds(seed: int) -> None:
    Bounded.model_validate(instance_of(Bounded.model_json_schema(), seed))


def test_the_same_seed_gives_the_same_instance() -> None:
    schema = Bounded.model_json_schema()

    assert instance_of(schema, 7) == instance_of(schema, 7)


def test_an_anything_goes_schema_gets_a_value() -> None:
    assert instance_of({"type": "array", "items": True, "minItems": 1})


def test_a_remote_reference_is_refused() -> None:
    with pytest.raises(SchemaError):
        instance_of({"$ref": "https://example.com/schema.json"})


@pytest.mark.asyncio
async def test_the_server_answers_400_to_a_schema_it_cannot_follow(client: httpx.AsyncClient) -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "remote", "schema": {"$ref": "https://example.com/schema.json"}},
    }
    body = {
        "model": "openai/gpt-5.5",
        "messages": [{"role": "user", "content": "Fill this in."}],
        "response_format": response_format,
    }

    response = await client.post("/chat/completions", json=body)

    assert response.status_code == 400
    assert "response_format" in response.json()["error"]["message"]
