"""Reading what runs publish on the channel layer, in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from channels.layers import BaseChannelLayer

Message = dict[str, Any]


async def listen(layer: BaseChannelLayer, group: str) -> str:
    """A new channel in `group`, for the test to read."""
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def receive_until(
    layer: BaseChannelLayer, channel: str, last: Callable[[Message], bool]
) -> list[Message]:
    """Messages on the channel up to and including the first that `last` accepts."""
    messages: list[Message] = []
    # A guard against a hang, not a wait: every message the tests expect is already on its way,
    # and none may depend on a frame clock.
    async with asyncio.timeout(5):
        while not messages or not last(messages[-1]):
            messages.append(await layer.receive(channel))
    return messages


def is_final(message: Message) -> bool:
    """The run's last word: its snapshot once it has ended."""
    return message["type"] == "run.snapshot" and message["final"]
