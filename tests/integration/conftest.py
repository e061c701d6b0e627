"""A fast simulator, and our real provider client talking to it over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from chat.providers.client import OpenAICompatibleClient
from chat.providers.http_client import create_http_client
from chat.simulator import Simulator


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(time_scale=0) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client() as client:
        yield client


@pytest_asyncio.fixture
async def client(sim: Simulator, http: httpx.AsyncClient) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(sim.endpoint(), http)
