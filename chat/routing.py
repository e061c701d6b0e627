"""Websocket routes, and the channel run workers listen on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import path

from chat.consumers import ConversationConsumer, RunConsumer
from chat.runs.protocol import CONVERSATION_SOCKET_PATH, RUNS_CHANNEL, SOCKET_PATH
from chat.runs.worker import RunWorkerConsumer

if TYPE_CHECKING:
    from channels.utils import _ChannelApplication

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(), whose stubs only know views.
    path(SOCKET_PATH, RunConsumer.as_asgi()),  # type: ignore[arg-type]
    path(CONVERSATION_SOCKET_PATH, ConversationConsumer.as_asgi()),  # type: ignore[arg-type]
]

# `python manage.py runworker fusion-runs`: the process executes runs instead of serving pages.
channel_routes: dict[str, _ChannelApplication] = {
    RUNS_CHANNEL: RunWorkerConsumer.as_asgi(),
}
