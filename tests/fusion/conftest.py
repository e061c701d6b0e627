"""The fake model API and clock of every pipeline test (tests/fakes.py), and the helpers they share."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import pytest

from chat.fusion.events import Event
from chat.fusion.request import FusionRequest
from chat.providers.types import ModelInfo
from tests.fakes import JUDGE, SEATS, FakeClock, FakeModelClient


def model_info(model_id: str, **fields: Any) -> ModelInfo:
    return ModelInfo(id=model_id, name=model_id, endpoint="test", **fields)


def make_request(
    seats: Sequence[str] = SEATS,
    judge: str = JUDGE,
    **fields: Any,
) -> FusionRequest:
    fields.setdefault("messages", [{"role": "user", "content": "Why is the sky blue?"}])
    return FusionRequest(seats=list(seats), judge=judge, **fields)


async def collect(events: AsyncGenerator[Event, None]) -> list[Event]:
    return [event async for event in events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeModelClient:
    return FakeModelClient(clock)
