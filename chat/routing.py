"""Websocket routes, and the channel run workers listen on."""

from __future__ import annotations

from django.urls import path

from chat.consumers import RunConsumer
from chat.runs import RUNS_CHANNEL
from chat.runs.worker import RunWorkerConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]

# `python manage.py runworker fusion-runs`: the process executes runs instead of serving pages.
channel_routes = {
    RUNS_CHANNEL: RunWorkerConsumer.as_asgi(),
}
