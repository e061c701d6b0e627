"""The run worker: executes the runs web processes hand to the `fusion-runs` channel.

Started with `python manage.py runworker fusion-runs` (README "Scale out"). Channels gives the
worker one consumer that handles its messages one at a time, so a run is never executed in a
handler: the handler starts it as a task of the worker's event loop and returns, and one
worker streams many runs at once. SIGTERM or SIGINT marks its runs interrupted, then it exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from channels.consumer import AsyncConsumer

from chat.runs import dispatch, protocol
from chat.runs.recovery import announce_saved, ensure_sweeper

logger = logging.getLogger(__name__)

# A stop the run may have missed (it was still loading) is said again this often until it ends.
STOP_RELAY_SECONDS = 0.5


class RunWorkerConsumer(AsyncConsumer):
    """Takes `run.start` messages from the `fusion-runs` channel, and `run.stop` from the
    control groups of the runs it executes (joined before a run starts, so none is missed)."""

    # Installed once per process, by the first run (before it, there is nothing to look after).
    _signals_handled = False

    def __init__(self) -> None:
        super().__init__()
        self._background: set[asyncio.Task[None]] = set()

    async def run_start(self, message: dict[str, Any]) -> None:
        run_id = int(message["run_id"])
        ensure_sweeper()  # workers sweep too: a worker may outlive every web process's sweep
        self._handle_stop_signals()
        if run_id in dispatch.executing_here():  # a duplicate message
            return
        # Join the run's control group before looking for an early stop: a stop asked after
        # the look then reaches this channel (chat.runs.dispatch.request_stop writes, then sends).
        await self.channel_layer.group_add(protocol.control_group(run_id), self.channel_name)
        claimed = await dispatch.claim(run_id)
        if claimed != "run":
            await self._leave(run_id)
            if claimed == "stopped":
                await announce_saved([run_id])
            logger.info("Run %s not executed: %s", run_id, claimed)
            return
        task = dispatch.execute_here(run_id)
        task.add_done_callback(lambda _: self._leave_soon(run_id))
        logger.info("Run %s started in this worker (%d running)", run_id, len(dispatch.executing_here()))

    async def run_stop(self, message: dict[str, Any]) -> None:
        """The run's own control channel stops it, and saves it stopped. It may not listen yet
        (the run is loading), and cancelling the task meanwhile would end it saved as running,
        or cut its final save short: so say it again until the run has ended."""
        run_id = message.get("run_id")
        if message.get("relayed") or not isinstance(run_id, int) or run_id not in dispatch.executing_here():
            return
        relay = asyncio.get_running_loop().create_task(self._stop_until_ended(run_id))
        self._background.add(relay)
        relay.add_done_callback(self._background.discard)

    async def _stop_until_ended(self, run_id: int) -> None:
        while True:
            await asyncio.sleep(STOP_RELAY_SECONDS)
            if run_id not in dispatch.executing_here():
                return
            message = protocol.stop_message(run_id, relayed=True)
            await self.channel_layer.group_send(protocol.control_group(run_id), message)

    async def run_sync(self, message: dict[str, Any]) -> None:
        """A viewer asks for a snapshot: the run's own control channel answers it."""

    @classmethod
    def _handle_stop_signals(cls) -> None:
        # By default SIGINT would cancel every task, which saves each run as stopped by the
        # user, and SIGTERM would leave them to the sweep a minute later.
        if cls._signals_handled:
            return
        cls._signals_handled = True
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: loop.create_task(_exit_interrupting_runs()))

    async def _leave(self, run_id: int) -> None:
        await self.channel_layer.group_discard(protocol.control_group(run_id), self.channel_name)

    def _leave_soon(self, run_id: int) -> None:
        leaving = asyncio.get_running_loop().create_task(self._leave(run_id))
        self._background.add(leaving)
        leaving.add_done_callback(self._background.discard)


async def _exit_interrupting_runs() -> None:
    try:
        ids = await dispatch.interrupt_here()
        logger.warning("Stopping: %d run(s) marked interrupted", len(ids))
    finally:
        # At once, before a run saves again over its interruption; the supervisor restarts us.
        os._exit(0)
