"""Executing a run in this process: the pipeline's events folded, saved, framed and published.

Django and Channels sit on this side; the pure pipeline (chat.fusion) on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.conf import settings
from django.contrib.auth.models import User

from chat import formatting
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.fusion.events import Event, FusedDelta, SeatDelta, SeatReasoningDelta
from chat.fusion.options import RunOptions
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import FusionRequest, OutputLimits, ReusedAnswer, Sampling
from chat.models import Run, SeatAnswer
from chat.providers.protocol import ModelClient
from chat.providers.types import Endpoint, ModelInfo
from chat.rendering import render_answer
from chat.runs import protocol
from chat.runs.creation import reused_answers
from chat.runs.frames import Frames
from chat.runs.pacing import Pacing
from chat.runs.services import Services
from chat.runs.state import Change, RunState
from chat.runs.toolbox import toolbox_for
from chat.webtools.options import WebToolOptions

logger = logging.getLogger(__name__)


# The events that only add text: folded and framed without rendering anything heavy.
_DELTAS = (SeatDelta, SeatReasoningDelta, FusedDelta)

LATE_SEATS_STOPPED_NOTE = "You stopped the late seats after the fused answer; what they wrote is kept."


def stopped_note(elapsed_ms: float) -> str:
    """The run's status once its owner stopped it: one sentence (what arrived stays on the page)."""
    return f"Stopped by you after {formatting.seconds(elapsed_ms)}."


def reported_totals(state: RunState) -> dict[str, Any]:
    """What the calls that finished before a run was cut short reported (a stopped stream
    reports nothing): the run's totals when no RunDone brought them. Reused answers were
    counted by their own run."""
    calls = [
        (answer.prompt_tokens, answer.completion_tokens, answer.cost)
        for answer in state.answers
        if not answer.reused
    ]
    for stats in (state.run.analysis_stats, state.run.fused_stats):
        if stats:
            calls.append(
                (stats.get("prompt_tokens", 0), stats.get("completion_tokens", 0), stats.get("cost"))
            )
    costs = [cost for _, _, cost in calls if cost is not None]
    return {
        "prompt_tokens": sum(prompt for prompt, _, _ in calls),
        "completion_tokens": sum(completion for _, completion, _ in calls),
        "cost": sum(costs) if costs else None,
    }


CRASHED_NOTE = "The run failed because of an error in FusionRoom itself."
ENDED_EARLY_NOTE = "The run ended early. What arrived before is kept."


@dataclass(frozen=True)
class Loaded:
    """Everything executing a run needs from the database, read before it starts."""

    run: Run
    answers: list[SeatAnswer]
    messages: list[dict[str, Any]]
    # The owner's endpoints, with their own keys: a run spends its owner's credit.
    endpoints: list[Endpoint]


def load(run_id: int) -> Loaded:
    run = Run.objects.select_related("turn__conversation__owner").get(pk=run_id)
    conversation = run.turn.conversation
    return _loaded(run, conversation.thread_messages(before=run.turn), endpoints_for(conversation.owner))


def loaded_new_run(run: Run, thread: list[dict[str, str]], owner: User) -> Loaded | None:
    """What `load` would read for a run just created in this thread, from the objects in hand
    (`thread`: the conversation's messages before the run's turn).
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
        # An API call's own thread (system, earlier turns) comes right before its question.
        messages=[*thread, *run.turn.context, {"role": "user", "content": run.asked_prompt()}],
        endpoints=endpoints,
    )


def fusion_request(
    messages: list[dict[str, Any]],
    *,
    seats: list[str],
    judge: str,
    writer: str | None,
    web_tools: WebToolOptions,
    catalog: dict[str, ModelInfo],
    reuse: dict[int, ReusedAnswer] | None = None,
    sampling: Sampling | None = None,
    auto: bool = False,
    write_answer: bool = True,
    options: RunOptions | None = None,
) -> FusionRequest:
    """What the pipeline is asked, the same for a saved run and an unsaved one (the terminal's)."""
    return FusionRequest(
        messages=messages,
        seats=seats,
        judge=judge,
        writer=writer,
        max_tokens=settings.FUSIONROOM_MAX_TOKENS,
        catalog=catalog,
        reuse=reuse or {},
        sampling=sampling or Sampling(),
        auto=auto,
        write_answer=write_answer,
        options=options or RunOptions(),
        web_search=web_tools.web_search,
        max_tool_calls=web_tools.max_tool_calls,
        limits=OutputLimits(
            answer_chars=settings.FUSIONROOM_MAX_ANSWER_CHARS,
            reasoning_chars=settings.FUSIONROOM_MAX_REASONING_CHARS,
            tool_argument_chars=settings.FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS,
        ),
    )


def save(run_id: int, run_values: dict[str, Any], answer_values: list[dict[str, Any]]) -> None:
    # One statement for every changed answer and one for the run, however many tokens came.
    if answer_values:
        # Stand-ins carrying the changed fields (every answer the same ones: RunState.take_dirty):
        # bulk_update writes just those, by primary key, so no row is read first.
        fields = sorted(answer_values[0].keys() - {"pk"})
        SeatAnswer.objects.bulk_update([SeatAnswer(**values) for values in answer_values], fields)
    if run_values:
        Run.objects.filter(pk=run_id).update(**run_values)


class Runner:
    """One executing run: its state, its frames, and the clocks that save and publish them."""

    def __init__(
        self,
        state: RunState,
        layer: BaseChannelLayer | None,
        pacing: Pacing,
        listeners: list[asyncio.Queue[Event | None]],
        publish_events: bool = False,
    ) -> None:
        self.state = state
        self.frames = Frames(state)
        self.layer = layer
        self.pacing = pacing
        self.listeners = listeners
        # An API run executing in a worker: the request reading its events is in another process.
        self.events_group = protocol.events_group(state.run.pk) if publish_events and layer else None
        self.group = protocol.run_group(state.run.pk)
        # Frames go out one at a time, in the order they were made: a text frame made before
        # a column's final frame must not overtake it, whatever the channel layer does.
        # Everything that reads or changes the frames holds it too, which is what lets their
        # rendering run in a thread: nothing else touches them meanwhile.
        self.sending = asyncio.Lock()
        self.seq = 0  # the number of the last message published to the group

    async def _send_frames(self, frames: list[str]) -> None:
        if self.layer is not None:
            html = "".join(frames)
            if html:
                self.seq += 1
                await self.layer.group_send(self.group, protocol.frame_message(html, seq=self.seq))

    async def publish_pending_text(self) -> None:
        async with self.sending:
            await self._send_frames(await self._pending_text())

    async def _pending_text(self) -> list[str]:
        # Markdown is rendered in a thread: a frame's cost is bounded (chat.rendering), but
        # hostile text costs tens of milliseconds a block, which would stall every other socket.
        # Most frames settle no block and only escape the tails: they stay here, as a trip to a
        # thread costs more than they do.
        if not self.frames.pending_columns():
            return []
        if not self.frames.renders_markdown():
            return self.frames.pending_text()
        return await asyncio.to_thread(self.frames.pending_text)

    async def _show(self, changes: list[Change]) -> list[str]:
        """The frames for these changes; final texts are rendered first, once, in a thread."""
        if not Frames.is_heavy(changes):
            return self.frames.show(changes)
        await self.render_final_texts()
        return await asyncio.to_thread(self.frames.show, changes)

    async def render_final_texts(self) -> None:
        """Render every final text not rendered yet, off the loop, and keep its HTML in the state
        (set here, on the loop: the save clock reads the state's changes meanwhile)."""
        for column, text in self.state.unrendered():
            # Under the budget its stream had: what a hostile stream made costly stays plain text.
            budget = self.frames.columns[column].markdown.budget
            self.state.set_html(column, await asyncio.to_thread(render_answer, text, budget))

    async def send_snapshot(self, reply_to: str | None) -> None:
        if self.layer is None:
            return
        async with self.sending:
            # Pending text first, so that the snapshot and the frames after it line up.
            await self._send_frames(await self._pending_text())
            await self.render_final_texts()
            html = await asyncio.to_thread(self.frames.run_frame)
            final = not self.state.run.is_running
            if reply_to:
                try:
                    await self.layer.send(
                        reply_to, protocol.snapshot_message(html, final=final, seq=self.seq)
                    )
                except ChannelFull:  # that viewer is far behind: it catches up at the next snapshot
                    logger.warning("Run %s: a viewer's channel is full; its snapshot was dropped", self.group)
            else:
                self.seq += 1
                await self.layer.group_send(
                    self.group, protocol.snapshot_message(html, final=final, seq=self.seq)
                )

    async def save(self) -> None:
        run_values, answer_values = self.state.take_dirty()
        if run_values or answer_values:
            # Shielded: the values are taken, so a save cancelled before its thread ran it would
            # lose them (the save clock is cancelled when the run ends). The database thread runs
            # saves in the order they were asked, so the final save still lands last.
            await asyncio.shield(sync_to_async(save)(self.state.run.pk, run_values, answer_values))

    async def publish_event(self, event: Event | None) -> None:
        """To the events group, if the run has one: every event but the seats' deltas (the bulk
        of them, which the API reads only for its optional fusion events), then None at the end."""
        if self.events_group is None or self.layer is None:
            return
        if isinstance(event, SeatDelta | SeatReasoningDelta):
            return
        payload = None if event is None else event.model_dump(mode="json")
        await self.layer.group_send(self.events_group, protocol.event_message(payload))

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
                self.state.beat()
            await self.save()

    async def control(self, pipeline: asyncio.Task[None]) -> None:
        """Answer viewers who join mid-run, and stop requests from other processes."""
        if self.layer is None:
            return
        channel = await self.layer.new_channel()
        group = protocol.control_group(self.state.run.pk)
        await self.layer.group_add(group, channel)
        try:
            while True:
                message = await self.layer.receive(channel)
                if message.get("type") == protocol.STOP:
                    pipeline.cancel()
                elif message.get("type") == protocol.SYNC:
                    await self.send_snapshot(message.get("reply_to"))
        finally:
            await self.layer.group_discard(group, channel)

    async def consume(self, request: FusionRequest, client: ModelClient) -> None:
        toolbox = toolbox_for(self.state.run.web_tools) if request.web_search else None
        await self._consume(run_fusion(request, client, toolbox=toolbox))

    async def _consume(self, source: AsyncIterator[Event]) -> None:
        # The pipeline runs ahead in a task of its own: an async generator does nothing between
        # two events until asked for the next, so rendering a seat's final frame here would
        # otherwise hold back the judge's request (and the analysis frame the writer's).
        events: asyncio.Queue[Event | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for event in source:
                    if isinstance(event, _DELTAS) and events.empty() and not self.sending.locked():
                        # Nothing is queued or being shown, so the loop below is idle: a delta
                        # (nearly every event) is folded here, sparing a task switch per token.
                        # Its text waits for the frame clock (a column's first goes at once).
                        async with self.sending:
                            await self._send_frames(self.frames.show(self.state.apply(event)))
                    else:
                        events.put_nowait(event)
                    # Readers of the events get them here, as they come: they need no frames,
                    # and the loop below may wait for a rendering thread (all runs share them).
                    for listener in self.listeners:
                        listener.put_nowait(event)
                    if self.events_group is not None:
                        await self.publish_event(event)
            finally:
                events.put_nowait(None)  # the end, or the pipeline's error (raised by await below)

        producer = asyncio.create_task(produce())
        try:
            while (event := await events.get()) is not None:
                # Fold and send under the lock: a snapshot cannot slip between an event's
                # effect on the state and the frames that show it.
                async with self.sending:
                    await self._send_frames(await self._show(self.state.apply(event)))
            await producer
        finally:
            # Stopped: the pipeline's seats are cancelled, and their streams closed, before the
            # run saves its end.
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
            # What the pipeline said before the stop is kept, even where no frame showed it yet:
            # the run's end (and its snapshot) are made from this state.
            while not events.empty():
                if (event := events.get_nowait()) is not None:
                    self.state.apply(event)


async def execute_run(
    run_id: int,
    services: Services,
    loaded: Loaded | None = None,
    listeners: list[asyncio.Queue[Event | None]] | None = None,
) -> None:
    try:
        loaded = loaded or await sync_to_async(load)(run_id)
    except KeyUnavailable as error:
        # Fail closed: never fall back to the server's key or to none behind the user's back.
        note = f"{error.user_message} (Settings → keys)"
        await sync_to_async(Run.objects.filter(pk=run_id).end)(Run.Status.FAILED, note=note, began=False)
        return
    run, answers = loaded.run, loaded.answers
    state = RunState(run, answers)
    # Read by a request in another process only when the run may travel (to a worker) at all.
    publish = run.api_token_id is not None and services.travels
    runner = Runner(
        state, services.channel_layer(), services.paced(), listeners or [], publish_events=publish
    )
    client = services.client_for(loaded.endpoints)

    async def fuse() -> None:
        # The catalog is fetched inside the pipeline's task, so that a Stop during the fetch
        # (an HTTP call) stops the run like any other: nothing before the `try` may wait.
        request = fusion_request(
            loaded.messages,
            seats=[answer.model for answer in answers],
            judge=run.judge,
            writer=run.writer,
            web_tools=run.web_tools,
            catalog=await services.catalog(loaded.endpoints),
            reuse=reused_answers(answers),
            sampling=Sampling.model_validate(run.sampling) if run.sampling else None,
            auto=run.auto_fuse,
            write_answer=run.write_answer,
            options=run.run_options,
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
        # The note and the run's duration say the same time.
        elapsed = state.run.elapsed_ms()
        if not state.run.is_running:
            pass  # it ended (RunDone) as the stop came: its own end stands
        elif state.only_late_seats_left():
            # Its answer was whole: the run is done, only the late seats it was not waiting on stop.
            totals = reported_totals(state)
            state.end(Run.Status.DONE, note=LATE_SEATS_STOPPED_NOTE, duration_ms=elapsed, **totals)
        else:
            state.end(
                Run.Status.STOPPED, note=stopped_note(elapsed), duration_ms=elapsed, **reported_totals(state)
            )
    except Exception:
        logger.exception("Run %s crashed", run_id)
        state.end(Run.Status.FAILED, note=CRASHED_NOTE)
    finally:
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if state.run.is_running:  # the pipeline ended without RunDone: treat it as stopped
            state.end(Run.Status.STOPPED, note=ENDED_EARLY_NOTE, **reported_totals(state))
        await runner.publish_pending_text()
        async with runner.sending:  # the answers it stopped are final too: render them once
            await runner.render_final_texts()
        await runner.save()
        # A snapshot, not a frame: a viewer still waiting for its first snapshot drops frames,
        # and one that joined as the run ended would otherwise never see the end.
        await runner.send_snapshot(None)
        await runner.publish_event(None)
