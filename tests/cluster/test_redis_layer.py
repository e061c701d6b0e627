"""The Redis channel layer loses no message when a receive is cancelled (chat/redis_layer.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from django.conf import settings

from chat.redis_layer import RedisChannelLayer

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def layer() -> AsyncIterator[RedisChannelLayer]:
    layer = RedisChannelLayer(hosts=[{"address": settings.REDIS_URL, "socket_timeout": 10}])
    yield layer
    await layer.flush()
    await layer.close_pools()


class HeldBackup:
    """Holds the layer between popping a message and noting it in its backup queue: the moment
    a receive cancelled there would lose it."""

    def __init__(self, layer: RedisChannelLayer) -> None:
        self.popped = asyncio.Event()
        self.go_on = asyncio.Event()
        connection = layer.connection

        def held_connection(index: int) -> Any:
            real = connection(index)
            zadd = real.zadd

            async def held_zadd(key: str, *args: Any, **kwargs: Any) -> Any:
                if key.endswith("$inflight"):
                    self.popped.set()
                    await self.go_on.wait()
                return await zadd(key, *args, **kwargs)

            real.zadd = held_zadd
            return real

        layer.connection = held_connection  # type: ignore[method-assign]


async def test_a_receive_cancelled_as_a_message_comes_in_loses_no_other_channels_message(
    layer: RedisChannelLayer,
) -> None:
    # A run's control receive and a viewer's, in one process: the run ends (its control receive
    # is cancelled) just as a frame for the viewer comes in.
    viewer, control = await layer.new_channel(), await layer.new_channel()
    held = HeldBackup(layer)
    listening = asyncio.ensure_future(layer.receive(control))
    await layer.send(viewer, {"type": "run.frame", "seq": 18})
    await asyncio.wait_for(held.popped.wait(), 10)
    listening.cancel()
    held.go_on.set()

    message = await asyncio.wait_for(layer.receive(viewer), 10)

    assert message == {"type": "run.frame", "seq": 18}
