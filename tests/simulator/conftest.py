"""A fast simulator with the default catalog, and an HTTP client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from chat.simulator import Simulator


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    # time_scale=0: no thinking time, no pacing; the tests never wait on the clock.
    async with Simulator(time_scale=0) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=httpx.Timeout(10.0)) as http:
        yield http
