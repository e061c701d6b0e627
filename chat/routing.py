"""Websocket routes, and the channel run workers listen on."""

from __future__ import annotations

from django.urls import path

from chat.consumers import RunConsumer
from chat.runs.protocol import RUNS_CHANNEL, SOCKET_PATH
from chat.runs.worker import RunWorkerConsumer

websocket_urlpatterns = [
    path(SOCKET_PATH, RunConsumer.as_asgi()),
]

# `python manage.py runworker fusion-runs`: the process executes runs instead of serving pages.
channel_routes = {
    RUNS_CHANNEL: RunWorkerConsumer.as_asgi(),
}
