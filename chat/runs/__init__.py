"""The one place that starts a run, saves what it says and publishes it to the browser.

Django and Channels sit on this side; the pure pipeline (chat.fusion) on the other. A run is
an asyncio task of a server process, not of the websocket: closing the tab changes nothing.
With FUSIONROOM_RUN_WORKERS (Redis) that process is a run worker (chat.worker), else the web
process that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.endpoints.catalog import load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import client_for, endpoints_for
from chat.fusion.events import CallStats, Event
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import FusionRequest, ReusedAnswer
from chat.live import LiveRun
from chat.models import Panel, Run, SeatAnswer, Turn
from chat.providers.protocol import ModelClient
from chat.providers.types import Endpoint, ModelInfo
from chat.runs.toolbox import toolbox_for

logger = logging.getLogger(__name__)


# Strong references: the event loop keeps only weak ones to tasks.
_tasks: dict[int, asyncio.Task[None]] = {}
_handing_over: set[asyncio.Task[None]] = set()

# The channel run workers listen on: `python manage.py runworker fusion-runs`.
RUNS_CHANNEL = "fusion-runs"
# How long a stop asked for a run no worker has taken yet is remembered for the worker: longer
# than a queued run.start can wait in the channel layer (its expiry, 60 s by default).
STOP_REQUEST_SECONDS = 600

# A running run's process touches it every FUSIONROOM_HEARTBEAT_SECONDS; one silent for
# FUSIONROOM_HEARTBEAT_STALE_SECONDS was left behind by a process that died.
INTERRUPTED_NOTE = (
    "The server stopped while this run was going. What arrived before is kept; "
    "nothing was re-run or billed again. Retry or re-run it when you like."
)


def stale_after() -> timedelta:
    return timedelta(seconds=settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS)


def mark_interrupted(*, stale_after: timedelta | None) -> int:
    """Mark running runs whose process is gone as interrupted; returns how many.

    With `stale_after=None` every running run is taken as orphaned: right for a single process
    that is starting, since no other process can be executing its runs.
    """
    return len(_interrupt_orphans(stale_after=stale_after))


def _interrupt_orphans(*, stale_after: timedelta | None) -> list[int]:
    orphans = Run.objects.active()
    if stale_after is not None:
        cutoff = timezone.now() - stale_after
        orphans = orphans.filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        )
    ids = _interrupt(list(orphans.values_list("pk", flat=True)))
    if ids:
        logger.warning("Marked %d run(s) interrupted: their process is gone.", len(ids))
    return ids


def _interrupt(ids: list[int]) -> list[int]:
    if not ids:
        return []
    with transaction.atomic():
        SeatAnswer.objects.filter(
            run_id__in=ids, status__in=[SeatAnswer.Status.WAITING, SeatAnswer.Status.WRITING]
        ).update(status=SeatAnswer.Status.STOPPED)
        Run.objects.filter(pk__in=ids, status=Run.Status.RUNNING).update(
            status=Run.Status.INTERRUPTED,
            stage=Run.Stage.FINISHED,
            note=INTERRUPTED_NOTE,
            finished_at=timezone.now(),
        )
    return ids


async def interrupt_here() -> list[int]:
    """For a process about to exit: mark the runs it executes interrupted, and show their viewers.

    Their tasks are left as they are (cancelling them would save them as stopped by the user);
    the process must exit right after, before they save again.
    """
    ids = await sync_to_async(_interrupt)(executing_here())
    await announce_saved(ids)
    return ids


def mark_interrupted_at_startup() -> int:
    """On start-up: with one process (no Redis) every running run is orphaned; with several,
    only those whose heartbeat stopped (another process may be running the rest)."""
    return mark_interrupted(stale_after=stale_after() if settings.REDIS_URL else None)


_sweeper: asyncio.Task[None] | None = None


async def sweep_once() -> list[int]:
    """Mark the runs whose heartbeat stopped as interrupted, and show it to their viewers."""
    ids = await sync_to_async(_interrupt_orphans)(stale_after=stale_after())
    await announce_saved(ids)
    return ids


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(settings.FUSIONROOM_SWEEP_SECONDS)
        try:
            await sweep_once()
        except Exception:  # a sweep that fails now may work next time; the server goes on
            logger.exception("The interrupted-run sweep failed")


def ensure_sweeper() -> None:
    global _sweeper
    if _sweeper is None or _sweeper.done():
        _sweeper = asyncio.get_running_loop().create_task(_sweep_forever(), context=contextvars.Context())


@dataclass(frozen=True)
class Pacing:
    """How often text is saved and how often it is framed for the browser."""

    # 1 s: at most a second of text is lost in a crash (a viewer's snapshot comes from the run
    # itself, never from these rows), and the rows are written at most twice a second per run
    # however many tokens come: under 0.01 writes per token from 100 tokens/s (bench/README.md).
    flush_seconds: float = 1.0
    # 50 ms: smoother than the eye needs, and a frame carries 5+ tokens at 100 tokens/s, so the
    # markdown tail is re-rendered a fifth as often as tokens arrive (bench/README.md).
    frame_seconds: float = 0.05
    # The run says it is alive about this often (saved with the next flush).
    heartbeat_seconds: float = 10.0

    @classmethod
    def configured(cls) -> Pacing:
        return cls(heartbeat_seconds=settings.FUSIONROOM_HEARTBEAT_SECONDS)


def control_group(run_id: int) -> str:
    return f"run-{run_id}-control"


# A run numbers what it publishes to its group (`seq`, 1, 2, 3...); a snapshot carries the number
# of the last message it covers. A viewer that sees a number skipped lost a frame on the way
# (a full or expired channel) and asks for a snapshot instead of showing a gap.


def frame_message(html: str, *, seq: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "run.frame", "html": html}
    if seq is not None:
        message["seq"] = seq
    return message


def snapshot_message(html: str, *, final: bool, seq: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "run.snapshot", "html": html, "final": final}
    if seq is not None:
        message["seq"] = seq
    return message


# -- creating a run (sync, called from views through sync_to_async) ------------------------


@transaction.atomic
def create_turn_and_run(conversation: Any, prompt: str, panel: Panel, *, simulated: bool) -> Run:
    last = conversation.turns.order_by("-position").first()
    turn = Turn.objects.create(
        conversation=conversation, position=(last.position + 1) if last else 0, prompt=prompt
    )
    if not conversation.title:
        conversation.title = _title_from(prompt)
    conversation.save()  # bumps updated_at: the conversation moves to the top of the list
    return create_run(turn, panel, simulated=simulated)


def create_run(turn: Turn, panel: Panel, *, simulated: bool, retry_of: Run | None = None) -> Run:
    run = Run.objects.create(
        turn=turn,
        panel=panel,
        panel_name=panel.name,
        judge=panel.judge,
        writer=panel.writer_model,
        simulated=simulated,
        retry_of=retry_of,
        web_search=panel.web_search,
        max_tool_calls=panel.max_tool_calls,
        excluded_domains=list(panel.excluded_domains),
        blocked_domains=list(panel.blocked_domains),
    )
    SeatAnswer.objects.bulk_create(
        SeatAnswer(run=run, index=i, model=model) for i, model in enumerate(panel.seats)
    )
    return run


KEPT_STATUSES = (SeatAnswer.Status.DONE, SeatAnswer.Status.INCOMPLETE)
KEPT_FIELDS = (
    "text",
    "tool_activity",
    "sources",
    "reasoning",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "ttft_ms",
    "duration_ms",
)


@transaction.atomic
def create_retry(run: Run, *, simulated: bool) -> Run:
    """A new run of the same turn and panel that keeps every answer and re-asks the rest.

    With every seat answered it re-runs only the judge and the writer: "retry the analysis".
    """
    retry = Run.objects.create(
        turn=run.turn,
        panel=run.panel,
        panel_name=run.panel_name,
        judge=run.judge,
        writer=run.writer,
        simulated=simulated,
        retry_of=run,
        web_search=run.web_search,
        max_tool_calls=run.max_tool_calls,
        excluded_domains=run.excluded_domains,
        blocked_domains=run.blocked_domains,
    )
    copies = []
    for answer in run.answers.order_by("index"):
        kept = answer.status in KEPT_STATUSES
        values = {name: getattr(answer, name) for name in KEPT_FIELDS} if kept else {}
        copies.append(SeatAnswer(run=retry, index=answer.index, model=answer.model, reused=kept, **values))
    SeatAnswer.objects.bulk_create(copies)
    return retry


def _reused(answers: list[SeatAnswer]) -> dict[int, ReusedAnswer]:
    return {
        answer.index: ReusedAnswer(
            text=answer.text,
            complete=answer.status == SeatAnswer.Status.DONE,
            stats=CallStats(
                model=answer.model,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                cost=answer.cost,
                ttft_ms=answer.ttft_ms,
                duration_ms=answer.duration_ms or 0.0,
            ),
        )
        for answer in answers
        if answer.reused
    }


def _title_from(prompt: str) -> str:
    words = " ".join(prompt.split())
    return words if len(words) <= 60 else words[:57].rsplit(" ", 1)[0] + "…"


# -- starting and stopping ----------------------------------------------------------------


def start_run(
    run_id: int,
    client_factory: Callable[[], ModelClient] | None = None,
    pacing: Pacing | None = None,
    loaded: Loaded | None = None,
) -> None:
    """Start the run: handed to a run worker when there are workers, else executed here.

    Either way it outlives the request that asked. A run given its own client factory (tests,
    the fuse command) always executes here: a factory cannot travel to another process.
    `loaded` (from `loaded_new_run`) spares a run executed here reading back what its request
    just wrote; a worker reads it itself.
    """
    ensure_sweeper()
    if client_factory is None and settings.FUSIONROOM_RUN_WORKERS:
        loop = asyncio.get_running_loop()
        handing = loop.create_task(hand_to_worker(run_id), context=contextvars.Context())
        _handing_over.add(handing)
        handing.add_done_callback(_handing_over.discard)
    else:
        execute_here(run_id, client_factory, pacing, loaded)


def execute_here(
    run_id: int,
    client_factory: Callable[[], ModelClient] | None = None,
    pacing: Pacing | None = None,
    loaded: Loaded | None = None,
) -> asyncio.Task[None]:
    """Execute the run as a task of the running event loop, in this process.

    The task gets a fresh context: it must not inherit the caller's (a request's thread
    executor for sync_to_async is gone once the response is sent).
    """
    running = execute_run(run_id, client_factory, pacing or Pacing.configured(), loaded)
    task = asyncio.get_running_loop().create_task(running, context=contextvars.Context())
    _tasks[run_id] = task
    task.add_done_callback(lambda _: _tasks.pop(run_id, None))
    return task


HAND_OVER_FAILED_NOTE = (
    "FusionRoom could not hand this run to a worker, so no model was asked. Try again in a moment."
)


async def hand_to_worker(run_id: int) -> None:
    """Queue the run for the next free run worker (chat.worker); fail it visibly if that fails."""
    layer = get_channel_layer()
    try:
        assert layer is not None, "FUSIONROOM_RUN_WORKERS needs a channel layer"
        await layer.send(RUNS_CHANNEL, {"type": "run.start", "run_id": run_id})
    except Exception:  # Redis down or the queue full: the run must not wait for nothing
        logger.exception("Could not hand run %s to a worker", run_id)
        await sync_to_async(_fail_before_start)(run_id, HAND_OVER_FAILED_NOTE)
        await announce_saved([run_id])


def _stop_key(run_id: int) -> str:
    return f"run-stop:{run_id}"


async def request_stop(run_id: int) -> None:
    """Ask the run to stop, wherever it executes; this process's own task is cancelled directly."""
    task = _tasks.get(run_id)
    if task is not None:
        task.cancel()
        return
    if settings.FUSIONROOM_RUN_WORKERS:
        # Written before the message is sent: a worker that takes the run later reads it
        # (chat.worker joins the control group first, then reads; so one of the two reaches it).
        await cache.aset(_stop_key(run_id), True, timeout=STOP_REQUEST_SECONDS)
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(control_group(run_id), {"type": "run.stop", "run_id": run_id})


def executing_here() -> list[int]:
    """The runs this process is executing now."""
    return list(_tasks)


def cancel_here(run_id: int) -> bool:
    """Cancel this process's task for the run, if it has one."""
    task = _tasks.get(run_id)
    if task is None:
        return False
    task.cancel()
    return True


STOPPED_BEFORE_START_NOTE = "Stopped by the user before it began. No model was asked."


def _claim(run_id: int) -> str:
    """For a worker about to execute a run: "run" if it may, "stopped" if a stop was asked before
    it began (the run is then saved as stopped), "gone" if the run is no longer running."""
    if cache.get(_stop_key(run_id)):
        with transaction.atomic():
            stopped = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(
                status=Run.Status.STOPPED,
                stage=Run.Stage.FINISHED,
                note=STOPPED_BEFORE_START_NOTE,
                finished_at=timezone.now(),
            )
            if stopped:
                SeatAnswer.objects.filter(run_id=run_id, status=SeatAnswer.Status.WAITING).update(
                    status=SeatAnswer.Status.STOPPED
                )
        return "stopped" if stopped else "gone"
    # The first heartbeat at once: the run is now visibly this process's.
    taken = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())
    return "run" if taken else "gone"


claim = sync_to_async(_claim)


def _saved_frame(run_id: int) -> str | None:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    return LiveRun(run, list(run.answers.order_by("index"))).run_frame()


async def announce_saved(run_ids: list[int]) -> None:
    """Send the viewers of runs that ended without their process (interrupted, stopped or failed
    before they began) the saved state, as the run's final snapshot."""
    layer = get_channel_layer()
    if layer is None:
        return
    for run_id in run_ids:
        try:
            html = await sync_to_async(_saved_frame)(run_id)
            if html is not None:
                await layer.group_send(f"run-{run_id}", snapshot_message(html, final=True))
        except Exception:  # the run is saved; a viewer sees it on its next load
            logger.exception("Could not show run %s's viewers that it ended", run_id)


async def wait_for_run(run_id: int) -> None:
    """For tests and commands: wait until this process's task for the run has ended."""
    task = _tasks.get(run_id)
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


# -- executing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    run: Run
    answers: list[SeatAnswer]
    messages: list[dict[str, Any]]
    # The owner's endpoints, with their own keys: a run spends its owner's credit.
    endpoints: list[Endpoint]


def _load(run_id: int) -> Loaded:
    run = Run.objects.select_related("turn__conversation__owner").get(pk=run_id)
    conversation = run.turn.conversation
    return _loaded(run, conversation.thread_messages(before=run.turn), endpoints_for(conversation.owner))


def loaded_new_run(run: Run, thread: list[dict[str, str]], owner: Any) -> Loaded | None:
    """What `_load` would read for a run just created by `create_turn_and_run` in this thread,
    from the objects in hand (`thread`: the conversation's messages before the run's turn).
    None when the owner's keys cannot be read: the run then loads itself and fails visibly."""
    try:
        endpoints = endpoints_for(owner)
    except KeyUnavailable:
        return None
    return _loaded(run, thread, endpoints)


def _loaded(run: Run, thread: list[dict[str, str]], endpoints: list[Endpoint]) -> Loaded:
    return Loaded(
        run=run,
        answers=list(run.answers.order_by("index")),
        messages=[*thread, {"role": "user", "content": run.turn.prompt}],
        endpoints=endpoints,
    )


def _save(run_id: int, run_values: dict[str, Any], answer_values: list[dict[str, Any]]) -> None:
    # One statement for every changed answer and one for the run, however many tokens came.
    if answer_values:
        # Stand-ins carrying the changed fields (every answer the same ones: LiveRun.take_dirty):
        # bulk_update writes just those, by primary key, so no row is read first.
        fields = sorted(answer_values[0].keys() - {"pk"})
        SeatAnswer.objects.bulk_update([SeatAnswer(**values) for values in answer_values], fields)
    if run_values:
        Run.objects.filter(pk=run_id).update(**run_values)


async def _catalog(endpoints: list[Endpoint]) -> dict[str, ModelInfo]:
    catalog = await load_catalog(endpoints)
    for name, reason in catalog.down.items():
        # Prices only refine the cost figures; a run goes on without them.
        logger.warning("Model catalog of %s unavailable: %s", name, reason)
    return catalog.infos()


def _fail_before_start(run_id: int, note: str) -> None:
    run = Run.objects.get(pk=run_id)
    run.answers.update(status=SeatAnswer.Status.FAILED, error=note)
    Run.objects.filter(pk=run_id).update(
        status=Run.Status.FAILED, stage=Run.Stage.FINISHED, note=note, finished_at=timezone.now()
    )


class _Runner:
    def __init__(self, live: LiveRun, layer: BaseChannelLayer | None, pacing: Pacing) -> None:
        self.live = live
        self.layer = layer
        self.pacing = pacing
        self.group = live.run.group_name
        # Frames go out one at a time, in the order they were made: a text frame made before
        # a column's final frame must not overtake it, whatever the channel layer does.
        self.sending = asyncio.Lock()
        self.seq = 0  # the number of the last message published to the group

    async def publish(self, *frames: str) -> None:
        async with self.sending:
            await self._send_frames(frames)

    async def _send_frames(self, frames: tuple[str, ...] | list[str]) -> None:
        if self.layer is not None:
            html = "".join(frames)
            if html:
                self.seq += 1
                await self.layer.group_send(self.group, frame_message(html, seq=self.seq))

    async def publish_pending_text(self) -> None:
        async with self.sending:
            await self._send_frames([self.live.text_frame(column) for column in self.live.pending_columns()])

    async def send_snapshot(self, reply_to: str | None) -> None:
        if self.layer is None:
            return
        async with self.sending:
            # Pending text first, so that the snapshot and the frames after it line up.
            await self._send_frames([self.live.text_frame(column) for column in self.live.pending_columns()])
            html, final = self.live.run_frame(), not self.live.run.is_running
            if reply_to:
                try:
                    await self.layer.send(reply_to, snapshot_message(html, final=final, seq=self.seq))
                except ChannelFull:  # that viewer is far behind: it catches up at the next snapshot
                    logger.warning("Run %s: a viewer's channel is full; its snapshot was dropped", self.group)
            else:
                self.seq += 1
                await self.layer.group_send(self.group, snapshot_message(html, final=final, seq=self.seq))

    async def save(self) -> None:
        run_values, answer_values = self.live.take_dirty()
        if run_values or answer_values:
            # Shielded: the values are taken, so a save cancelled before its thread ran it would
            # lose them (the save clock is cancelled when the run ends). The database thread runs
            # saves in the order they were asked, so the final save still lands last.
            await asyncio.shield(sync_to_async(_save)(self.live.run.pk, run_values, answer_values))

    async def frame_clock(self) -> None:
        while True:
            await asyncio.sleep(self.pacing.frame_seconds)
            await self.publish_pending_text()

    async def save_clock(self) -> None:
        beats_every = max(1, round(self.pacing.heartbeat_seconds / self.pacing.flush_seconds))
        flushes = 0
        while True:
            await asyncio.sleep(self.pacing.flush_seconds)
            flushes += 1
            if flushes % beats_every == 0:
                self.live.beat()
            await self.save()

    async def control(self, pipeline: asyncio.Task[None]) -> None:
        """Answer viewers who join mid-run, and stop requests from other processes."""
        if self.layer is None:
            return
        channel = await self.layer.new_channel()
        await self.layer.group_add(control_group(self.live.run.pk), channel)
        try:
            while True:
                message = await self.layer.receive(channel)
                if message.get("type") == "run.stop":
                    pipeline.cancel()
                elif message.get("type") == "run.sync":
                    await self.send_snapshot(message.get("reply_to"))
        finally:
            await self.layer.group_discard(control_group(self.live.run.pk), channel)

    async def consume(self, request: FusionRequest, client: ModelClient) -> None:
        toolbox = toolbox_for(self.live.run) if request.web_search else None
        # The pipeline runs ahead in a task of its own: an async generator does nothing between
        # two events until asked for the next, so rendering a seat's final frame here would
        # otherwise hold back the judge's request (and the analysis frame the writer's).
        events: asyncio.Queue[Event | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for event in run_fusion(request, client, toolbox=toolbox):
                    events.put_nowait(event)
            finally:
                events.put_nowait(None)  # the end, or the pipeline's error (raised by await below)

        producer = asyncio.create_task(produce())
        try:
            while (event := await events.get()) is not None:
                # Fold and send under the lock: a snapshot cannot slip between an event's
                # effect on the state and the frames that show it.
                async with self.sending:
                    await self._send_frames(self.live.apply(event))
            await producer
        finally:
            # Stopped: the pipeline's seats are cancelled, and their streams closed, before the
            # run saves its end.
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)


async def execute_run(
    run_id: int,
    client_factory: Callable[[], ModelClient] | None,
    pacing: Pacing,
    loaded: Loaded | None = None,
) -> None:
    try:
        loaded = loaded or await sync_to_async(_load)(run_id)
    except KeyUnavailable as error:
        # Fail closed: never fall back to the server's key or to none behind the user's back.
        await sync_to_async(_fail_before_start)(run_id, f"{error.user_message} (Settings → keys)")
        return
    run, answers = loaded.run, loaded.answers
    live = LiveRun(run, answers)
    runner = _Runner(live, get_channel_layer(), pacing)
    client = client_factory() if client_factory else client_for(loaded.endpoints)

    async def fuse() -> None:
        # The catalog is fetched inside the pipeline's task, so that a Stop during the fetch
        # (an HTTP call) stops the run like any other: nothing before the `try` may wait.
        request = FusionRequest(
            messages=loaded.messages,
            seats=[answer.model for answer in answers],
            judge=run.judge,
            writer=run.writer,
            max_tokens=settings.FUSIONROOM_MAX_TOKENS,
            catalog=await _catalog(loaded.endpoints),
            reuse=_reused(answers),
            web_search=run.web_search,
            max_tool_calls=run.max_tool_calls,
        )
        await runner.consume(request, client)

    pipeline = asyncio.create_task(fuse())
    helpers = [
        asyncio.create_task(runner.frame_clock()),
        asyncio.create_task(runner.save_clock()),
        asyncio.create_task(runner.control(pipeline)),
    ]
    try:
        # Viewers that connected before the task began need a snapshot, but the models come
        # first: one turn of the loop lets the pipeline send its requests before this renders.
        await asyncio.sleep(0)
        await runner.send_snapshot(None)
        await asyncio.shield(pipeline)
    except asyncio.CancelledError:
        # Either Stop (the pipeline was cancelled) or this task was: stop the pipeline too.
        pipeline.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pipeline
        live.finish(Run.Status.STOPPED, note="Stopped by the user. What arrived before is kept.")
    except Exception:
        logger.exception("Run %s crashed", run_id)
        live.finish(Run.Status.FAILED, note="The run failed because of an error in FusionRoom itself.")
    finally:
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if live.run.is_running:  # the pipeline ended without RunDone: treat it as stopped
            live.finish(Run.Status.STOPPED, note="The run ended early. What arrived before is kept.")
        await runner.publish_pending_text()
        await runner.save()
        # A snapshot, not a frame: a viewer still waiting for its first snapshot drops frames,
        # and one that joined as the run ended would otherwise never see the end.
        await runner.send_snapshot(None)
