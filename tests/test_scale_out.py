"""Scale out, in one process: handing runs to workers, the worker itself, numbered frames, the sweep.

The same behaviours across real processes, PostgreSQL and Redis are in tests/cluster/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from channels.testing import ApplicationCommunicator
from django.contrib.auth.models import User
from django.utils import timezone

from chat.models import Run, SeatAnswer
from chat.runs import dispatch, recovery, services
from chat.runs.dispatch import wait_for_run
from chat.runs.pacing import Pacing
from chat.runs.protocol import RUNS_CHANNEL, control_group, frame_message, run_group, snapshot_message
from chat.runs.worker import RunWorkerConsumer
from fusionroom.asgi import application
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, Gate, analysis_json, answer
from tests.layer import Message, is_final, listen, receive_until
from tests.sockets import connected_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_catalog")]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_worker_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's SIGTERM/SIGINT handler exits its process: not this one (tests/cluster sends them)."""
    monkeypatch.setattr(RunWorkerConsumer, "_signals_handled", True)


@pytest.fixture
def workers(settings: Any) -> None:
    """As with REDIS_URL: runs started by a view go to the fusion-runs channel."""
    settings.FUSIONROOM_RUN_WORKERS = True


@pytest.fixture
def fake(run_services: Callable[..., None]) -> FakeModelClient:
    """The model API of every run this process executes, the worker's included."""
    client = FakeModelClient()
    run_services(client_for=lambda endpoints: client)
    return client


def script_run(fake: FakeModelClient, *, held: Gate | None = None) -> None:
    """One run's answers; with `held`, the first seat stops after its first word until opened."""
    first = answer("Alpha says the sky is blue.")
    fake.script(SEATS[0], [first[0], held, *first[1:]] if held else first)
    fake.script(SEATS[1], answer("Beta says blue light scatters more."))
    fake.script(SEATS[2], answer("Gamma says it is Rayleigh scattering."))
    fake.script(JUDGE, answer(analysis_json()))
    fake.script(WRITER, answer("The sky is blue."))


@asynccontextmanager
async def worker() -> AsyncIterator[ApplicationCommunicator]:
    """The worker's consumer, as `manage.py runworker fusion-runs` runs it; its runs end after."""
    communicator = ApplicationCommunicator(application, {"type": "channel", "channel": RUNS_CHANNEL})
    try:
        yield communicator
    finally:
        for run_id in dispatch.executing_here():
            dispatch.cancel_here(run_id)
            await wait_for_run(run_id)
        communicator.stop()  # raises what the consumer raised, if it did
        with contextlib.suppress(asyncio.CancelledError):
            await communicator.future


async def status_of(run: Run) -> str:
    return (await Run.objects.aget(pk=run.pk)).status


@pytest.fixture
def new_run(alice: User, make_run: Callable[..., Run]) -> Callable[[], Any]:
    return lambda: sync_to_async(make_run)(alice)


# -- where a run executes --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_with_workers_a_started_run_is_queued_for_a_worker_not_executed_here(
    workers: None, new_run: Callable[[], Any], channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()

    dispatch.dispatch(run.pk)
    queued = await asyncio.wait_for(channel_layer.receive(RUNS_CHANNEL), 5)

    assert queued == {"type": "run.start", "run_id": run.pk}
    assert dispatch.executing_here() == []


@pytest.mark.asyncio
async def test_without_workers_a_started_run_executes_in_this_process(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    script_run(fake)

    dispatch.dispatch(run.pk)
    await wait_for_run(run.pk)

    assert await status_of(run) == Run.Status.DONE


@pytest.mark.asyncio
async def test_a_run_with_its_own_client_executes_here_even_with_workers(
    workers: None, new_run: Callable[[], Any], channel_layer: BaseChannelLayer
) -> None:
    own = FakeModelClient()
    script_run(own)
    run = await new_run()

    dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: own))
    await wait_for_run(run.pk)

    assert await status_of(run) == Run.Status.DONE
    assert len(own.requests) == 5


@pytest.mark.asyncio
async def test_a_run_no_worker_can_be_given_fails_with_a_note_its_viewers_are_shown(
    workers: None,
    new_run: Callable[[], Any],
    channel_layer: BaseChannelLayer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    send = channel_layer.send

    async def refuse_run_starts(channel: str, message: Message) -> None:
        if channel == RUNS_CHANNEL:
            raise ConnectionError("Redis is down")
        await send(channel, message)

    monkeypatch.setattr(channel_layer, "send", refuse_run_starts)
    run = await new_run()
    viewer = await listen(channel_layer, run_group(run.pk))

    dispatch.dispatch(run.pk)
    [shown] = await receive_until(channel_layer, viewer, is_final)

    saved = await Run.objects.aget(pk=run.pk)
    assert saved.status == Run.Status.FAILED
    assert saved.note == dispatch.HAND_OVER_FAILED_NOTE
    assert 'data-status="failed"' in shown["html"]


# -- the worker ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_worker_executes_a_run_it_is_handed(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    script_run(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": run.pk})
        messages = await receive_until(channel_layer, viewer, is_final)

    assert await status_of(run) == Run.Status.DONE
    assert 'data-status="done"' in messages[-1]["html"]


@pytest.mark.asyncio
async def test_a_worker_streams_many_runs_at_once(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    first, second = await new_run(), await new_run()
    gates = [Gate(), Gate()]
    for gate in gates:
        script_run(fake, held=gate)

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": first.pk})
        await communicator.send_input({"type": "run.start", "run_id": second.pk})
        # Both runs are mid-stream at the same moment: neither waits for the other to finish.
        async with asyncio.timeout(5):
            await asyncio.gather(*(gate.reached.wait() for gate in gates))
        assert sorted(dispatch.executing_here()) == sorted([first.pk, second.pk])
        for gate in gates:
            gate.open()
        await asyncio.gather(wait_for_run(first.pk), wait_for_run(second.pk))

    assert [await status_of(first), await status_of(second)] == [Run.Status.DONE, Run.Status.DONE]


@pytest.mark.asyncio
async def test_a_worker_says_a_run_is_alive_as_soon_as_it_takes_it(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    gate = Gate()
    script_run(fake, held=gate)

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": run.pk})
        async with asyncio.timeout(5):
            await gate.reached.wait()
        beat = (await Run.objects.aget(pk=run.pk)).heartbeat_at
        gate.open()
        await wait_for_run(run.pk)

    assert beat is not None


@pytest.mark.asyncio
async def test_a_stop_sent_to_the_runs_control_group_stops_it_in_the_worker(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    gate = Gate()
    script_run(fake, held=gate)

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": run.pk})
        async with asyncio.timeout(5):
            await gate.reached.wait()
        # What request_stop sends from a web process, which has no task of the run to cancel.
        await channel_layer.group_send(control_group(run.pk), {"type": "run.stop", "run_id": run.pk})
        await wait_for_run(run.pk)

    assert await status_of(run) == Run.Status.STOPPED


@pytest.mark.asyncio
async def test_a_run_stopped_before_a_worker_took_it_is_never_executed(
    workers: None, new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    viewer = await listen(channel_layer, run_group(run.pk))
    await dispatch.request_stop(run.pk)  # no process executes it yet: the worker will read this

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": run.pk})
        [shown] = await receive_until(channel_layer, viewer, is_final)

    saved = await Run.objects.aget(pk=run.pk)
    statuses = {answer.status async for answer in SeatAnswer.objects.filter(run=run)}
    assert (saved.status, saved.note) == (Run.Status.STOPPED, dispatch.STOPPED_BEFORE_START_NOTE)
    assert statuses == {SeatAnswer.Status.STOPPED}
    assert fake.requests == []
    assert 'data-status="stopped"' in shown["html"]


@pytest.mark.asyncio
async def test_a_worker_does_not_execute_a_run_that_is_no_longer_running(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    ended, live = await new_run(), await new_run()
    await Run.objects.filter(pk=ended.pk).aupdate(status=Run.Status.INTERRUPTED)
    gate = Gate()
    script_run(fake, held=gate)

    async with worker() as communicator:
        await communicator.send_input({"type": "run.start", "run_id": ended.pk})
        await communicator.send_input({"type": "run.start", "run_id": live.pk})
        # Messages are handled in order: once the second run streams, the first was passed over.
        async with asyncio.timeout(5):
            await gate.reached.wait()
        executing = dispatch.executing_here()
        gate.open()
        await wait_for_run(live.pk)

    assert executing == [live.pk]
    assert await status_of(ended) == Run.Status.INTERRUPTED


# -- numbered frames -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_run_numbers_everything_it_publishes_to_its_group_without_a_gap(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    script_run(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    dispatch.dispatch(
        run.pk, services=services.current().replace(pacing=Pacing(flush_seconds=0.01, frame_seconds=0.005))
    )
    messages = await receive_until(channel_layer, viewer, is_final)

    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert len(messages) > 5


@pytest.mark.asyncio
async def test_a_snapshot_for_one_viewer_carries_the_number_of_the_last_message_it_covers(
    new_run: Callable[[], Any], fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> None:
    run = await new_run()
    gate = Gate()
    script_run(fake, held=gate)
    viewer = await listen(channel_layer, run_group(run.pk))
    late = await channel_layer.new_channel()

    dispatch.dispatch(
        run.pk, services=services.current().replace(pacing=Pacing(flush_seconds=60, frame_seconds=60))
    )
    async with asyncio.timeout(5):
        await gate.reached.wait()
    await channel_layer.group_send(control_group(run.pk), {"type": "run.sync", "reply_to": late})
    snapshot = await asyncio.wait_for(channel_layer.receive(late), 5)
    published = []
    while not published or published[-1]["seq"] < snapshot["seq"]:
        published.append(await asyncio.wait_for(channel_layer.receive(viewer), 5))
    gate.open()
    await wait_for_run(run.pk)

    assert snapshot["type"] == "run.snapshot" and snapshot["seq"] == published[-1]["seq"]


@pytest.mark.asyncio
async def test_a_socket_that_misses_a_frame_asks_for_a_snapshot_and_shows_nothing_until_it_comes(
    alice: User, alice_run: Run, channel_layer: BaseChannelLayer
) -> None:
    control = await listen(channel_layer, control_group(alice_run.pk))
    group = run_group(alice_run.pk)

    async with connected_socket(alice_run.pk, await sync_to_async(session_cookie)(alice)) as communicator:
        on_connect = await channel_layer.receive(control)
        await channel_layer.send(
            on_connect["reply_to"], snapshot_message("<p>up to 3</p>", final=False, seq=3)
        )
        await channel_layer.group_send(group, frame_message("<p>4</p>", seq=4))
        await channel_layer.group_send(group, frame_message("<p>6</p>", seq=6))  # 5 was lost
        asked = await asyncio.wait_for(channel_layer.receive(control), 5)
        await channel_layer.group_send(group, frame_message("<p>7</p>", seq=7))
        await channel_layer.send(asked["reply_to"], snapshot_message("<p>up to 7</p>", final=False, seq=7))
        await channel_layer.group_send(group, frame_message("<p>8</p>", seq=8))

        shown = [await communicator.receive_from() for _ in range(4)]
        assert await communicator.receive_nothing()

    assert asked["type"] == "run.sync"
    assert shown == ["<p>up to 3</p>", "<p>4</p>", "<p>up to 7</p>", "<p>8</p>"]


@pytest.mark.asyncio
async def test_a_socket_does_not_show_a_frame_its_snapshot_already_covers(
    alice: User, alice_run: Run, channel_layer: BaseChannelLayer
) -> None:
    control = await listen(channel_layer, control_group(alice_run.pk))

    async with connected_socket(alice_run.pk, await sync_to_async(session_cookie)(alice)) as communicator:
        on_connect = await channel_layer.receive(control)
        await channel_layer.send(
            on_connect["reply_to"], snapshot_message("<p>up to 5</p>", final=False, seq=5)
        )
        await channel_layer.group_send(run_group(alice_run.pk), frame_message("<p>5</p>", seq=5))
        await channel_layer.group_send(run_group(alice_run.pk), frame_message("<p>6</p>", seq=6))

        shown = [await communicator.receive_from() for _ in range(2)]

    assert shown == ["<p>up to 5</p>", "<p>6</p>"]


# -- runs whose process died -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_sweep_shows_viewers_the_runs_it_marks_interrupted(
    alice_run: Run, channel_layer: BaseChannelLayer, settings: Any
) -> None:
    settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS = 60
    silent_since = timezone.now() - timedelta(seconds=61)
    await Run.objects.filter(pk=alice_run.pk).aupdate(heartbeat_at=silent_since)
    viewer = await listen(channel_layer, run_group(alice_run.pk))

    marked = await recovery.sweep_once()
    [shown] = await receive_until(channel_layer, viewer, is_final)

    assert marked == [alice_run.pk]
    assert await status_of(alice_run) == Run.Status.INTERRUPTED
    assert 'data-status="interrupted"' in shown["html"]


@pytest.mark.asyncio
async def test_the_sweep_leaves_a_run_whose_heartbeat_is_recent(alice_run: Run, settings: Any) -> None:
    settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS = 60
    await Run.objects.filter(pk=alice_run.pk).aupdate(heartbeat_at=timezone.now() - timedelta(seconds=50))

    assert await recovery.sweep_once() == []


def test_heartbeats_follow_the_settings(settings: Any) -> None:
    settings.FUSIONROOM_HEARTBEAT_SECONDS = 0.5

    assert Pacing.configured().heartbeat_seconds == 0.5


# -- settings --------------------------------------------------------------------------------


def settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps({"
        "'cache': settings.CACHES['default']['BACKEND'], "
        "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], "
        "'workers': settings.FUSIONROOM_RUN_WORKERS}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FUSIONROOM_RUN_WORKERS")}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "fusionroom.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_redis_url_puts_the_channel_layer_the_cache_and_the_runs_workers_on_redis() -> None:
    found = settings_of(REDIS_URL="redis://127.0.0.1:6379/3")

    assert json.loads(found.stdout) == {
        "cache": "django.core.cache.backends.redis.RedisCache",
        "layer": "chat.redis_layer.RedisChannelLayer",
        "workers": True,
    }


def test_without_redis_everything_stays_in_the_process() -> None:
    found = settings_of()

    assert json.loads(found.stdout) == {
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "layer": "channels.layers.InMemoryChannelLayer",
        "workers": False,
    }


def test_run_workers_without_redis_refuse_to_start() -> None:
    found = settings_of(FUSIONROOM_RUN_WORKERS="1")

    assert found.returncode != 0
    assert "REDIS_URL is not set" in found.stderr
