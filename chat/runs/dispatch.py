"""Where a started run executes: handed to a run worker when there are workers, else here.

A run is an asyncio task of a server process, not of a request or a websocket: closing the tab
changes nothing. This module keeps this process's tasks, so it can stop them and wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.conf import settings
from django.core.cache import cache

from chat.fusion.events import Event, event_adapter
from chat.models import Run
from chat.runs import protocol
from chat.runs.execution import Loaded, execute_run
from chat.runs.recovery import announce_saved, ensure_sweeper, interrupt
from chat.runs.services import Services, current

logger = logging.getLogger(__name__)

# Strong references: the event loop keeps only weak ones to tasks.
_tasks: dict[int, asyncio.Task[None]] = {}
_handing_over: set[asyncio.Task[None]] = set()
# Callers reading a run's events as they come (chat.runs.lifecycle.events), by run.
_listeners: dict[int, list[asyncio.Queue[Event | None]]] = {}

# How long a stop asked for a run no worker has taken yet is remembered for the worker: longer
# than a queued run.start can wait in the channel layer (its expiry, 60 s by default).
STOP_REQUEST_SECONDS = 600
HAND_OVER_FAILED_NOTE = (
    "FusionRoom could not hand this run to a worker, so no model was asked. Try again in a moment."
)
STOPPED_BEFORE_START_NOTE = "Stopped by you before it began: no model was asked."


def dispatch(run_id: int, loaded: Loaded | None = None, services: Services | None = None) -> None:
    """Start the run: handed to a run worker when there are workers, else executed here.

    Either way it outlives the request that asked. `loaded` (from the start gate) spares a run
    executed here reading back what its request just wrote; a worker reads it itself.
    """
    ensure_sweeper()
    services = services or current()
    if services.travels and settings.FUSIONROOM_RUN_WORKERS:
        loop = asyncio.get_running_loop()
        handing = loop.create_task(hand_to_worker(run_id), context=contextvars.Context())
        _handing_over.add(handing)
        handing.add_done_callback(_handing_over.discard)
    else:
        execute_here(run_id, services, loaded)


def execute_here(
    run_id: int, services: Services | None = None, loaded: Loaded | None = None
) -> asyncio.Task[None]:
    """Execute the run as a task of the running event loop, in this process.

    The task gets a fresh context: it must not inherit the caller's (a request's thread
    executor for sync_to_async is gone once the response is sent).
    """
    listeners = _listeners.setdefault(run_id, [])
    running = execute_run(run_id, services or current(), loaded, listeners)
    task = asyncio.get_running_loop().create_task(running, context=contextvars.Context())
    _tasks[run_id] = task

    def ended(_: asyncio.Task[None]) -> None:
        _tasks.pop(run_id, None)
        for queue in _listeners.pop(run_id, []):
            queue.put_nowait(None)

    task.add_done_callback(ended)
    return task


def listen(run_id: int) -> asyncio.Queue[Event | None]:
    """A queue of the events of a run executing here, ended by None; LookupError if none is."""
    if run_id not in _tasks:
        raise LookupError(f"Run {run_id} is not executing in this process.")
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    _listeners.setdefault(run_id, []).append(queue)
    return queue


_relays: set[asyncio.Task[None]] = set()


async def listen_elsewhere(run_id: int, layer: BaseChannelLayer) -> asyncio.Queue[Event | None]:
    """A queue of the events an API run executing in a worker publishes (chat.runs.execution),
    ended by None. Call it before the run is handed over: the group is joined first.

    A worker that dies says nothing more: while the group is quiet, the run's row is read every
    FUSIONROOM_HEARTBEAT_STALE_SECONDS, and once the sweep has ended it the queue ends too.
    """
    group = protocol.events_group(run_id)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    async def relay() -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS):
                        message = await layer.receive(channel)
                except TimeoutError:
                    if await Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).aexists():
                        continue
                    break
                if message.get("type") != protocol.EVENT:
                    continue
                if message.get("event") is None:
                    break
                queue.put_nowait(event_adapter.validate_python(message["event"]))
        finally:
            queue.put_nowait(None)
            await layer.group_discard(group, channel)

    task = asyncio.get_running_loop().create_task(relay(), context=contextvars.Context())
    _relays.add(task)
    task.add_done_callback(_relays.discard)
    return queue


async def hand_to_worker(run_id: int) -> None:
    try:
        layer = current().channel_layer()
        assert layer is not None, "FUSIONROOM_RUN_WORKERS needs a channel layer"
        await layer.send(protocol.RUNS_CHANNEL, protocol.start_message(run_id))
    except Exception:  # Redis down or the queue full: the run must not wait for nothing
        logger.exception("Could not hand run %s to a worker", run_id)
        await sync_to_async(Run.objects.filter(pk=run_id).end)(
            Run.Status.FAILED, note=HAND_OVER_FAILED_NOTE, began=False
        )
        await announce_saved([run_id])


async def request_stop(run_id: int) -> None:
    """Ask the run to stop, wherever it executes; this process's own task is cancelled directly."""
    task = _tasks.get(run_id)
    if task is not None:
        task.cancel()
        return
    if settings.FUSIONROOM_RUN_WORKERS:
        # Written before the message is sent: a worker that takes the run later reads it
        # (chat.runs.worker joins the control group first, then reads; so one of the two reaches it).
        await cache.aset(protocol.stop_key(run_id), True, timeout=STOP_REQUEST_SECONDS)
    layer = current().channel_layer()
    if layer is not None:
        await layer.group_send(protocol.control_group(run_id), protocol.stop_message(run_id))


def executing_here() -> list[int]:
    """The runs this process is executing now."""
    return list(_tasks)


async def interrupt_here() -> list[int]:
    """For a process about to exit: mark the runs it executes interrupted, and show their viewers.

    Their tasks are left as they are (cancelling them would save them as stopped by the user);
    the process must exit right after, before they save again.
    """
    ids = await sync_to_async(interrupt)(executing_here())
    await announce_saved(ids)
    return ids


def cancel_here(run_id: int) -> bool:
    """Cancel this process's task for the run, if it has one."""
    task = _tasks.get(run_id)
    if task is None:
        return False
    task.cancel()
    return True


def _claim(run_id: int) -> str:
    """For a worker about to execute a run: "run" if it may, "stopped" if a stop was asked before
    it began (the run is then saved as stopped), "gone" if the run is no longer running."""
    if cache.get(protocol.stop_key(run_id)):
        stopped = Run.objects.filter(pk=run_id).end(
            Run.Status.STOPPED, note=STOPPED_BEFORE_START_NOTE, began=False
        )
        return "stopped" if stopped else "gone"
    # The first heartbeat at once: the run is now visibly this process's.
    return "run" if Run.objects.filter(pk=run_id).active().beat() else "gone"


claim = sync_to_async(_claim)


async def wait_for_run(run_id: int) -> None:
    """Wait until this process's task for the run has ended."""
    task = _tasks.get(run_id)
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
