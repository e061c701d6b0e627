"""Open run sockets end with their session: sign-out closes that session's, a new password all the user's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Run
from chat.runs.protocol import CLOSE_SIGNED_OUT
from tests.sockets import connected_socket, cookie_of, run_socket

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

OLD_PASSWORD = "an-old-horse-battery-41"
NEW_PASSWORD = "a-new-staple-correct-77"


async def signed_in(user: User, password: str | None = None) -> Client:
    client = Client()
    if password is None:
        await sync_to_async(client.force_login)(user)
    else:
        assert await sync_to_async(client.login)(username=user.get_username(), password=password)
    return client


async def closed_with(communicator: WebsocketCommunicator) -> int | None:
    output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close", output
    code: int | None = output.get("code")
    return code


@pytest.fixture
def with_password(alice: User) -> User:
    alice.set_password(OLD_PASSWORD)
    alice.save()
    return alice


@pytest.fixture
def bobs_run(bob: User, make_run: Callable[..., Run]) -> Run:
    return make_run(bob)


async def test_signing_out_closes_the_sockets_of_that_session(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    browser = await signed_in(alice)
    async with connected_socket(alice_run.pk, cookie_of(browser)) as socket:
        await sync_to_async(browser.post)("/accounts/logout/")

        assert await closed_with(socket) == CLOSE_SIGNED_OUT


async def test_signing_out_leaves_the_users_other_sessions_and_other_users_open(
    alice_run: Run, bobs_run: Run, alice: User, bob: User, channel_layer: BaseChannelLayer
) -> None:
    laptop, phone, bobs_browser = await signed_in(alice), await signed_in(alice), await signed_in(bob)
    async with (
        connected_socket(alice_run.pk, cookie_of(laptop)) as on_laptop,
        connected_socket(alice_run.pk, cookie_of(phone)) as on_phone,
        connected_socket(bobs_run.pk, cookie_of(bobs_browser)) as bobs,
    ):
        await sync_to_async(phone.post)("/accounts/logout/")

        assert await closed_with(on_phone) == CLOSE_SIGNED_OUT
        assert await on_laptop.receive_nothing(timeout=0.3)
        assert await bobs.receive_nothing(timeout=0.1)


async def test_changing_the_password_closes_every_socket_of_the_user_and_no_one_elses(
    alice_run: Run, bobs_run: Run, with_password: User, bob: User, channel_layer: BaseChannelLayer
) -> None:
    laptop = await signed_in(with_password, OLD_PASSWORD)
    phone = await signed_in(with_password, OLD_PASSWORD)
    bobs_browser = await signed_in(bob)
    async with (
        connected_socket(alice_run.pk, cookie_of(laptop)) as on_laptop,
        connected_socket(alice_run.pk, cookie_of(phone)) as on_phone,
        connected_socket(bobs_run.pk, cookie_of(bobs_browser)) as bobs,
    ):
        response = await sync_to_async(laptop.post)(
            "/accounts/password/",
            {"old_password": OLD_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 302, response.content

        assert await closed_with(on_laptop) == CLOSE_SIGNED_OUT
        assert await closed_with(on_phone) == CLOSE_SIGNED_OUT
        assert await bobs.receive_nothing(timeout=0.3)


async def test_a_password_set_anywhere_else_closes_them_too(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    # The admin's "change password" form and `manage.py changepassword` both end in set_password.
    browser = await signed_in(alice)
    async with connected_socket(alice_run.pk, cookie_of(browser)) as socket:

        def new_password() -> None:
            alice.set_password(NEW_PASSWORD)
            alice.save()

        await sync_to_async(new_password)()

        assert await closed_with(socket) == CLOSE_SIGNED_OUT


async def test_saving_the_user_without_a_new_password_closes_nothing(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    browser = await signed_in(alice)
    async with connected_socket(alice_run.pk, cookie_of(browser)) as socket:

        def rename() -> None:
            user = User.objects.get(pk=alice.pk)
            user.first_name = "Alice"
            user.save()
            user.save(update_fields=["last_login"])

        await sync_to_async(rename)()

        assert await socket.receive_nothing(timeout=0.3)


async def test_deleting_the_user_closes_their_sockets(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    browser = await signed_in(alice)
    async with connected_socket(alice_run.pk, cookie_of(browser)) as socket:
        await sync_to_async(lambda: User.objects.get(pk=alice.pk).delete())()

        assert await closed_with(socket) == CLOSE_SIGNED_OUT


async def test_a_closed_socket_cannot_come_back_on_the_ended_session(
    alice_run: Run, alice: User, channel_layer: BaseChannelLayer
) -> None:
    browser = await signed_in(alice)
    cookie = cookie_of(browser)
    await sync_to_async(browser.post)("/accounts/logout/")
    async with run_socket(alice_run.pk, cookie) as communicator:
        connected, _ = await communicator.connect()
        assert not connected
