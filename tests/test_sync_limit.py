"""A socket's sync asks for a whole snapshot: a client may not make the server send one per message."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User

from chat.models import Run
from chat.runs.protocol import control_group
from tests.layer import listen
from tests.sockets import run_socket, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice_cookie(alice: User) -> str:
    return session_cookie(alice)


async def waiting_messages(channel_layer: BaseChannelLayer, channel: str) -> int:
    count = 0
    while True:
        try:
            await asyncio.wait_for(channel_layer.receive(channel), 0.1)
        except TimeoutError:
            return count
        count += 1


async def test_two_thousand_syncs_ask_for_a_bounded_number_of_snapshots(
    alice_run: Run, alice_cookie: str, channel_layer: BaseChannelLayer
) -> None:
    control = await listen(channel_layer, control_group(alice_run.pk))

    async with run_socket(alice_run.pk, alice_cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        for _ in range(2_000):
            await communicator.send_json_to({"action": "sync"})
        refusals = 0
        while not await communicator.receive_nothing(timeout=0.2):
            refusals += "already on its way" in await communicator.receive_from()

    # One request on connecting, one for the first sync; every other sync is refused in a line.
    assert await waiting_messages(channel_layer, control) == 2
    assert refusals == 1_999
