"""Opening the run websocket through the real ASGI application, as a browser of this site would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from chat.runs.protocol import conversation_socket_url
from fusionroom.asgi import application


def cookie_of(client: Client) -> str:
    """The session cookie of a signed-in test client."""
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def session_cookie(user: User) -> str:
    """The cookie of a new session of `user`. Synchronous, like the ORM."""
    client = Client()
    client.force_login(user)
    return cookie_of(client)


@asynccontextmanager
async def run_socket(
    run_id: int, cookie: str | None = None, *, origin: bytes = b"http://testserver"
) -> AsyncIterator[WebsocketCommunicator]:
    """A websocket to the run, not yet connected, from this site unless told otherwise, in the
    session of `cookie` if given; always disconnected after."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/runs/{run_id}/", headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


@asynccontextmanager
async def connected_socket(run_id: int, cookie: str) -> AsyncIterator[WebsocketCommunicator]:
    """A websocket to the run in the session of `cookie`, connected (or the test fails); always
    disconnected after."""
    async with run_socket(run_id, cookie) as communicator:
        connected, _ = await communicator.connect()
        assert connected
        yield communicator


@asynccontextmanager
async def conversation_socket(
    conversation_id: int, cookie: str | None = None
) -> AsyncIterator[WebsocketCommunicator]:
    """A websocket to a conversation's news (runs added to it), not yet connected; always
    disconnected after."""
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    path = conversation_socket_url(conversation_id)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()
