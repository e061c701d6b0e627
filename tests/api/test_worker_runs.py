"""An API run handed to a run worker: its events come back to the request through the channel layer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chat.fusion.events import FusedDelta, RunDone, SeatDelta
from chat.models import ApiToken, Panel, Run
from chat.runs import Call, dispatch, start_call
from chat.runs.protocol import RUNS_CHANNEL
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient
from tests.test_scale_out import script_run, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_catalog")]


@pytest.fixture(autouse=True)
def no_worker_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    from chat.runs.worker import RunWorkerConsumer

    monkeypatch.setattr(RunWorkerConsumer, "_signals_handled", True)


@pytest.fixture
def fake(run_services) -> FakeModelClient:
    client = FakeModelClient()
    run_services(client_for=lambda endpoints: client)
    return client


async def call(alice) -> Call:
    token, _ = await sync_to_async(ApiToken.objects.issue)(alice, "laptop")
    return Call(
        context=[],
        prompt="Why is the sky blue?",
        panel=Panel(name="P", seats=list(SEATS), judge=JUDGE, writer=WRITER),
        token=token,
    )


async def drain(events: asyncio.Queue) -> list[Any]:
    received = []
    async with asyncio.timeout(10):
        while (event := await events.get()) is not None:
            received.append(event)
    return received


@pytest.mark.asyncio
async def test_an_api_run_in_a_worker_sends_its_events_back_to_the_request(
    alice, fake: FakeModelClient, channel_layer, settings: Any
) -> None:
    settings.FUSIONROOM_RUN_WORKERS = True
    script_run(fake)

    run, events = await start_call(alice, await call(alice))
    async with worker() as communicator:
        await communicator.send_input(await asyncio.wait_for(channel_layer.receive(RUNS_CHANNEL), 5))
        received = await drain(events)

    assert isinstance(received[-1], RunDone) and received[-1].status == "done"
    assert "".join(e.text for e in received if isinstance(e, FusedDelta)) == "The sky is blue."
    assert not any(isinstance(e, SeatDelta) for e in received)  # the bulk stays in the worker
    assert (await Run.objects.aget(pk=run.pk)).api_token_id is not None


@pytest.mark.asyncio
async def test_without_workers_an_api_run_executes_here(alice, fake: FakeModelClient, channel_layer) -> None:
    script_run(fake)

    run, events = await start_call(alice, await call(alice))
    assert dispatch.executing_here() == [run.pk]
    received = await drain(events)

    assert isinstance(received[-1], RunDone)
    assert any(isinstance(e, SeatDelta) for e in received)


@pytest.mark.asyncio
async def test_a_run_that_ends_without_a_word_from_its_worker_ends_the_queue(
    alice, fake: FakeModelClient, channel_layer, settings: Any
) -> None:
    settings.FUSIONROOM_RUN_WORKERS = True
    settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS = 0.1

    run, events = await start_call(alice, await call(alice))
    # The worker died and the sweep marked the run interrupted: nobody publishes its end.
    await sync_to_async(Run.objects.filter(pk=run.pk).end)(Run.Status.INTERRUPTED, note="gone", began=True)

    assert await drain(events) == []
