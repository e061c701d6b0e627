"""The run websocket, through the real ASGI application: who may subscribe, and what it forwards."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User

from chat.consumers import RunConsumer
from chat.models import Run
from chat.runs.protocol import (
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    control_group,
    frame_message,
    run_group,
    snapshot_message,
)
from tests.layer import listen
from tests.sockets import run_socket, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ERROR_FRAME = re.compile(r'<div id="live-error" hx-swap-oob="innerHTML">(.+)</div>', re.DOTALL)
CLEARED_ERROR = '<div id="live-error" hx-swap-oob="innerHTML"></div>'


@pytest.fixture
def alice_cookie(alice: User) -> str:
    return session_cookie(alice)


async def finish(run: Run) -> None:
    await Run.objects.filter(pk=run.pk).aupdate(status=Run.Status.DONE, stage=Run.Stage.FINISHED)


# -- who may subscribe -----------------------------------------------------------------------


async def test_an_anonymous_socket_is_refused(alice_run: Run) -> None:
    async with run_socket(alice_run.pk) as communicator:
        connected, code = await communicator.connect()

    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_a_socket_opened_by_another_site_is_refused(alice_run: Run, alice_cookie: str) -> None:
    async with run_socket(alice_run.pk, alice_cookie, origin=b"http://evil.example") as communicator:
        connected, _ = await communicator.connect()

    assert not connected


async def test_alice_cannot_subscribe_to_bobs_run(
    bob: User, make_run: Callable[..., Run], alice_cookie: str
) -> None:
    bobs_run = await sync_to_async(make_run)(bob)

    async with run_socket(bobs_run.pk, alice_cookie) as communicator:
        connected, code = await communicator.connect()

    assert not connected
    assert code == CLOSE_NOT_FOUND


async def test_a_run_that_does_not_exist_is_refused_like_someone_elses(alice_cookie: str) -> None:
    async with run_socket(999_999, alice_cookie) as communicator:
        connected, code = await communicator.connect()

    assert not connected
    assert code == CLOSE_NOT_FOUND


# -- what a subscribed socket is sent --------------------------------------------------------


async def test_frames_reach_a_socket_only_after_its_snapshot(
    alice_run: Run, alice_cookie: str, channel_layer: BaseChannelLayer
) -> None:
    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        await channel_layer.group_send(run_group(alice_run.pk), frame_message("<p>too early</p>"))
        await channel_layer.group_send(
            run_group(alice_run.pk), snapshot_message("<p>the snapshot</p>", final=False)
        )
        await channel_layer.group_send(run_group(alice_run.pk), frame_message("<p>in time</p>"))

        # The socket handles messages in order: had the early frame been forwarded, it would come first.
        assert await communicator.receive_from() == "<p>the snapshot</p>"
        assert await communicator.receive_from() == "<p>in time</p>"


async def test_forwarding_frames_makes_no_trip_to_the_database_thread(
    alice_run: Run, alice_cookie: str, channel_layer: BaseChannelLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []

    async def close_old_connections() -> None:
        trips.append("closed")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", close_old_connections)
    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        trips.clear()  # connecting may: it reads the run
        await channel_layer.group_send(
            run_group(alice_run.pk), snapshot_message("<p>so far</p>", final=False)
        )
        for n in range(5):
            await channel_layer.group_send(run_group(alice_run.pk), frame_message(f"<p>{n}</p>"))
        frames = [await communicator.receive_from() for _ in range(6)]
        forwarding = list(trips)  # disconnecting may make one: it is not forwarding

    assert frames == ["<p>so far</p>", *(f"<p>{n}</p>" for n in range(5))]
    assert forwarding == []


async def test_a_socket_to_a_finished_run_is_told_to_reload_it(alice_run: Run, alice_cookie: str) -> None:
    await finish(alice_run)

    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        frame = await communicator.receive_from()

    assert connected
    assert f'hx-get="/runs/{alice_run.pk}/"' in frame


async def test_a_socket_that_joins_as_the_run_ends_is_told_to_reload_it(
    alice_run: Run, alice_cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run saves its end and announces it between the socket's look at the run and its
    # joining the group: the announcement is missed, and no run is left to answer a sync.
    first_look = RunConsumer.run_status

    async def run_ends_after_the_first_look(run_id: int, user: Any) -> str | None:
        status = await first_look(run_id, user)
        monkeypatch.setattr(RunConsumer, "run_status", staticmethod(first_look))
        await finish(alice_run)
        return status

    monkeypatch.setattr(RunConsumer, "run_status", staticmethod(run_ends_after_the_first_look))

    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        frame = await communicator.receive_from()

    assert connected
    assert f'hx-get="/runs/{alice_run.pk}/"' in frame


@pytest.mark.parametrize(
    ("text", "data"),
    [
        pytest.param("this is not JSON", None, id="not-json"),
        pytest.param('["ping"]', None, id="json-array"),
        pytest.param('{"action": "dance"}', None, id="unknown-action"),
        pytest.param(None, b'{"action": "ping"}', id="bytes"),
        pytest.param(json.dumps({"action": "ping", "padding": "x" * 5000}), None, id="oversized"),
    ],
)
async def test_a_bad_message_gets_an_error_frame_and_the_socket_stays_usable(
    alice_run: Run, alice_cookie: str, text: str | None, data: bytes | None
) -> None:
    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected

        await communicator.send_to(text_data=text, bytes_data=data)
        error = await communicator.receive_from()
        await communicator.send_json_to({"action": "ping"})
        reply = await communicator.receive_from()

    assert ERROR_FRAME.fullmatch(error), error
    assert reply == CLEARED_ERROR


async def test_sync_asks_the_run_for_a_snapshot_for_this_socket(
    alice_run: Run, alice_cookie: str, channel_layer: BaseChannelLayer
) -> None:
    control = await listen(channel_layer, control_group(alice_run.pk))

    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        on_connect = await channel_layer.receive(control)  # a socket to a running run asks at once

        await communicator.send_json_to({"action": "sync"})
        on_sync = await channel_layer.receive(control)
        # Answer as the run would: the snapshot must come out of this very socket.
        await channel_layer.send(on_sync["reply_to"], snapshot_message("<p>the run so far</p>", final=False))
        forwarded = await communicator.receive_from()

    assert on_connect["type"] == on_sync["type"] == "run.sync"
    assert on_sync["reply_to"] == on_connect["reply_to"]
    assert forwarded == "<p>the run so far</p>"
