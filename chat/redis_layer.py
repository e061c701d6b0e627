"""channels-redis's layer, with receives that can be cancelled without losing a message.

A process reads all its channels through one blocking pop from Redis, made by whichever
receive holds the lock. Cancel that receive (a socket closes, a run ends) while Redis answers,
and the message in flight, perhaps another socket's frame or a run's stop, is gone. Here a
cancelled pop is left running, and the next receive takes its message over.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer


class RedisChannelLayer(BaseRedisChannelLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._popping: dict[str, asyncio.Task[Any]] = {}

    async def receive_single(self, channel: str) -> Any:
        popping = self._popping.get(channel)
        if popping is None or popping.get_loop() is not asyncio.get_running_loop():
            popping = asyncio.ensure_future(super().receive_single(channel))
            # Its error is raised to whoever awaits it; one nobody awaits (the pools closed,
            # the process ends) is not worth a warning.
            popping.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._popping[channel] = popping
        try:
            # Shielded: a cancelled caller leaves the pop, finished or not, to the next caller.
            result = await asyncio.shield(popping)
        except asyncio.CancelledError:
            raise
        except BaseException:
            self._forget(channel, popping)
            raise
        self._forget(channel, popping)
        return result

    def _forget(self, channel: str, popping: asyncio.Task[Any]) -> None:
        if self._popping.get(channel) is popping:
            del self._popping[channel]
