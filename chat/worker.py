"""The run worker: executes the runs web processes hand to the `fusion-runs` channel.

Started with `python manage.py runworker fusion-runs` (README "Scale out"). Channels gives the
worker one consumer that handles its messages one at a time, so a run is never executed in a
handler: the handler starts it as a task of the worker's event loop and returns, and one
worker streams many runs at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.consumer import AsyncConsumer

from chat import runs

logger = logging.getLogger(__name__)


class RunWorkerConsumer(AsyncConsumer):
    """Takes `run.start` messages from the `fusion-runs` channel, and `run.stop` from the
    control groups of the runs it executes."""

    def __init__(self) -> None:
        super().__init__()
        self._leaving: set[asyncio.Task[None]] = set()

    async def run_start(self, message: dict[str, Any]) -> None:
        run_id = int(message["run_id"])
        runs.ensure_sweeper()  # workers sweep too: a worker may outlive every web process's sweep
        if run_id in runs.executing_here():  # a duplicate message
            return
        # Join the run's control group before looking for an early stop: a stop asked after
        # the look then reaches this channel (chat.runs.request_stop writes, then sends).
        await self.channel_layer.group_add(runs.control_group(run_id), self.channel_name)
        claimed = await runs.claim(run_id)
        if claimed != "run":
            await self._leave(run_id)
            if claimed == "stopped":
                await runs.announce_saved([run_id])
            logger.info("Run %s not executed: %s", run_id, claimed)
            return
        task = runs.execute_here(run_id)
        task.add_done_callback(lambda _: self._leave_soon(run_id))
        logger.info("Run %s started in this worker (%d running)", run_id, len(runs.executing_here()))

    async def run_stop(self, message: dict[str, Any]) -> None:
        # The run's own control channel cancels it too; whichever comes first, it stops once.
        run_id = message.get("run_id")
        if isinstance(run_id, int):
            runs.cancel_here(run_id)

    async def run_sync(self, message: dict[str, Any]) -> None:
        """A viewer asks for a snapshot: the run's own control channel answers it."""

    async def _leave(self, run_id: int) -> None:
        await self.channel_layer.group_discard(runs.control_group(run_id), self.channel_name)

    def _leave_soon(self, run_id: int) -> None:
        leaving = asyncio.get_running_loop().create_task(self._leave(run_id))
        self._leaving.add(leaving)
        leaving.add_done_callback(self._leaving.discard)
