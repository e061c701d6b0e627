"""A conversation's socket: who may listen, and the news of a run added to it from anywhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.contrib.auth.models import User

from chat import runs
from chat.models import Conversation, Panel, Run
from chat.runs import news
from chat.runs.protocol import (
    CLOSE_NOT_FOUND,
    CLOSE_SIGNED_OUT,
    CLOSE_UNAUTHENTICATED,
    RUN_ADDED,
    SIGNED_OUT,
    conversation_group,
    run_added_message,
    user_group,
)
from tests.layer import listen, receive_until
from tests.sockets import conversation_socket, session_cookie

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

NEWS = re.compile(
    r'<div id="run-news" hx-swap-oob="innerHTML"><span data-turn="turn-(\d+)" data-run="run-(\d+)" '
    r'data-url="/turns/(\d+)/"></span></div>'
)


@pytest.fixture
def started(run_services: Callable[..., None]) -> list[int]:
    """Runs started through the lifecycle; none executes."""
    recorded: list[int] = []
    run_services(dispatch=lambda run_id, *args: recorded.append(run_id))
    return recorded


async def first_message(layer: BaseChannelLayer, channel: str) -> dict[str, Any]:
    (message,) = await receive_until(layer, channel, lambda message: True)
    return message


# -- who may listen ------------------------------------------------------------------------------


async def test_an_anonymous_socket_is_refused(alice_run: Run) -> None:
    async with conversation_socket(alice_run.turn.conversation_id) as communicator:
        connected, code = await communicator.connect()
    assert not connected and code == CLOSE_UNAUTHENTICATED


async def test_another_users_conversation_looks_missing(alice_run: Run, bob: User) -> None:
    cookie = await sync_to_async(session_cookie)(bob)
    async with conversation_socket(alice_run.turn.conversation_id, cookie) as communicator:
        connected, code = await communicator.connect()
    assert not connected and code == CLOSE_NOT_FOUND


async def test_the_owner_listens_and_is_told_of_a_run_added(alice_run: Run, alice: User) -> None:
    cookie = await sync_to_async(session_cookie)(alice)
    group = conversation_group(alice_run.turn.conversation_id)
    async with conversation_socket(alice_run.turn.conversation_id, cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        await get_channel_layer().group_send(group, run_added_message(alice_run.turn_id, alice_run.pk))
        frame = await communicator.receive_from()
    found = NEWS.fullmatch(frame)
    assert found is not None
    assert found.groups() == (str(alice_run.turn_id), str(alice_run.pk), str(alice_run.turn_id))


async def test_a_signed_out_user_stops_listening(alice_run: Run, alice: User) -> None:
    cookie = await sync_to_async(session_cookie)(alice)
    async with conversation_socket(alice_run.turn.conversation_id, cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        await get_channel_layer().group_send(user_group(alice.pk), SIGNED_OUT)
        output = await communicator.receive_output()
    assert output == {"type": "websocket.close", "code": CLOSE_SIGNED_OUT}


async def test_the_group_name_is_valid_for_every_channel_layer() -> None:
    # Redis's layer and the in-memory one accept the same names: letters, digits, - _ . under 100.
    assert BaseChannelLayer().require_valid_group_name(conversation_group(10**12))


# -- the news: every way a run is added ------------------------------------------------------------


async def test_a_new_turn_is_announced_to_its_conversation(
    alice_run: Run, alice: User, started: list[int], channel_layer: BaseChannelLayer
) -> None:
    # A follow-up waits for the last run's fused answer (the start gate refuses it before).
    await Run.objects.filter(pk=alice_run.pk).aupdate(status=Run.Status.DONE, stage=Run.Stage.FINISHED)
    conversation = await Conversation.objects.aget(pk=alice_run.turn.conversation_id)
    panel = await Panel.objects.aget(owner=alice)
    channel = await listen(channel_layer, conversation_group(conversation.pk))

    run = await runs.start(alice, runs.Ask(conversation, "A follow-up", panel))
    await news.announced()

    message = await first_message(channel_layer, channel)
    assert message == {"type": RUN_ADDED, "turn_id": run.turn_id, "run_id": run.pk}
    assert run.turn_id != alice_run.turn_id and started == [run.pk]


async def test_a_rerun_is_announced_to_its_conversation(
    alice_run: Run, alice: User, started: list[int], channel_layer: BaseChannelLayer
) -> None:
    await Run.objects.filter(pk=alice_run.pk).aupdate(status=Run.Status.DONE, stage=Run.Stage.FINISHED)
    turn = await sync_to_async(lambda: alice_run.turn)()
    panel = await Panel.objects.aget(owner=alice)
    channel = await listen(channel_layer, conversation_group(turn.conversation_id))

    run = await runs.start(alice, runs.Rerun(turn, panel))
    await news.announced()

    assert await first_message(channel_layer, channel) == {
        "type": RUN_ADDED,
        "turn_id": turn.pk,
        "run_id": run.pk,
    }


async def test_a_run_in_another_conversation_is_not_announced_here(
    alice_run: Run, alice: User, started: list[int], channel_layer: BaseChannelLayer
) -> None:
    await Run.objects.filter(pk=alice_run.pk).aupdate(status=Run.Status.DONE, stage=Run.Stage.FINISHED)
    conversation = await Conversation.objects.aget(pk=alice_run.turn.conversation_id)
    panel = await Panel.objects.aget(owner=alice)
    here = await listen(channel_layer, conversation_group(conversation.pk))
    elsewhere = await Conversation.objects.acreate(owner=alice)

    await runs.start(alice, runs.Ask(elsewhere, "Elsewhere", panel))
    await news.announced()
    mine = await runs.start(alice, runs.Ask(conversation, "Here", panel))
    await news.announced()

    # The first news this conversation hears is of its own run.
    assert (await first_message(channel_layer, here))["run_id"] == mine.pk
