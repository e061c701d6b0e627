"""A user's provider key goes to the provider and nowhere else, whatever the provider does.

A SENTINEL key is stored for alice (encrypted, as Settings stores it) and her run executes through
the real machinery (chat.runs → endpoints_for → the HTTP client with its timeouts and retries)
against the simulator, which insists on exactly that key. The provider answers, refuses the key,
fails with a 500, never answers, cuts the stream or stalls; with every logger at DEBUG (httpx and
httpcore included) the key must not appear in a log line, a frame sent to the page's socket, a
saved row, the pages, the exports or the share page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User
from django.test import Client

from chat import sharing
from chat.models import Conversation, Panel, Run, SeatAnswer, UserProviderKey
from chat.providers.types import Endpoint
from chat.runs import creation, dispatch, services
from chat.runs.dispatch import wait_for_run
from chat.runs.pacing import Pacing
from chat.runs.protocol import run_group
from chat.simulator import Simulator
from tests.layer import is_final, listen, receive_until

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

SENTINEL = "sk-SENTINEL-7d3a91c4e5"
MODELS = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"]
LOGGERS = ("", "httpx", "httpcore", "chat", "aiohttp", "asyncio", "django", "channels", "daphne")

# The provider's behaviour → what alice's seats should end up as.
SCENARIOS = {
    "success": (None, SeatAnswer.Status.DONE),
    "401": ("unauthorized", SeatAnswer.Status.FAILED),
    "500": ("server_error", SeatAnswer.Status.FAILED),
    "timeout": ("hang", SeatAnswer.Status.FAILED),
    "broken stream": ("cut", SeatAnswer.Status.INCOMPLETE),
    "stall": ("stall", SeatAnswer.Status.FAILED),
    "in-band error": ("inband_error", SeatAnswer.Status.FAILED),
}


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[Simulator]:
    """The simulator as a provider that accepts SENTINEL and refuses every other key with a 401."""
    async with Simulator(time_scale=0, keepalive_s=0.05, api_key=SENTINEL) as simulator:
        yield simulator


@pytest.fixture
def server(settings: Any, provider: Simulator, no_catalog: None) -> None:
    settings.FUSIONROOM_DEMO = False
    settings.FUSIONROOM_RUN_WORKERS = False  # executed in this process, where the test can listen
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [Endpoint(name="provider", base_url=provider.base_url)]
    # Short limits, so that the timeout and stall scenarios end quickly; one retry for the 500.
    settings.FUSIONROOM_TIMEOUT_FIRST_TOKEN = 0.5
    settings.FUSIONROOM_TIMEOUT_STALL = 0.5
    settings.FUSIONROOM_TIMEOUT_TOTAL = 10.0
    settings.FUSIONROOM_RETRY_ATTEMPTS = 2


def alices_run_on_the_provider(alice: User) -> Run:
    key = UserProviderKey(user=alice, endpoint="provider")
    key.set_api_key(SENTINEL)
    key.save()
    conversation = Conversation.objects.create(owner=alice)
    panel = Panel.objects.create(
        owner=alice,
        name="On the provider",
        seats=[f"provider::{model}" for model in MODELS],
        judge=f"provider::{MODELS[0]}",
    )
    return creation.create_turn_and_run(conversation, "Why is the sky blue?", panel, simulated=False)


def everything_shown_or_saved(run: Run, alice: User) -> dict[str, str]:
    """Each place the run ends up in, as text: rows, pages, exports, the share page."""
    conversation = run.turn.conversation
    owner = Client()
    owner.force_login(alice)
    link = sharing.create_link(conversation)
    places = {
        "run row": repr(Run.objects.filter(pk=run.pk).values().get()),
        "answer rows": repr(list(SeatAnswer.objects.filter(run_id=run.pk).values())),
        "conversation page": owner.get(conversation.get_absolute_url()).content.decode(),
        "run fragment": owner.get(f"/runs/{run.pk}/", headers={"HX-Request": "true"}).content.decode(),
        "settings page": owner.get("/settings/").content.decode(),
        "markdown export": owner.get(f"/c/{conversation.pk}/export.md").content.decode(),
        "json export": owner.get(f"/c/{conversation.pk}/export.json").content.decode(),
        "share page": Client().get(link.get_absolute_url()).content.decode(),
    }
    return places


def log_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(f"{formatter.format(record)} {record.args!r} {record.__dict__!r}" for record in records)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_key_reaches_the_provider_and_nothing_else(
    scenario: str,
    server: None,
    provider: Simulator,
    alice: User,
    channel_layer: BaseChannelLayer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fault, seat_status = SCENARIOS[scenario]
    if fault is not None:
        for model in MODELS:
            provider.configure(model, fault=fault, fault_after_tokens=3)
    for logger in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=logger)
    run = await sync_to_async(alices_run_on_the_provider)(alice)
    viewer = await listen(channel_layer, run_group(run.pk))

    dispatch.dispatch(
        run.pk, services=services.current().replace(pacing=Pacing(flush_seconds=0.05, frame_seconds=0.01))
    )
    await wait_for_run(run.pk)

    frames = await receive_until(channel_layer, viewer, is_final)
    seats = [seat async for seat in SeatAnswer.objects.filter(run_id=run.pk)]
    # The scenario happened, and the key did go out: the provider answers nothing without it.
    assert [seat.status for seat in seats] == [seat_status] * len(MODELS), [seat.error for seat in seats]
    assert provider.requests
    if fault != "unauthorized":  # the simulator answers 401 to any other key
        assert all(record.status != 401 for record in provider.requests)
    if fault is not None:
        assert all(record.fault == fault for record in provider.requests)
    # ...and it went nowhere else (httpx logs every request it sends; aiohttp, under it, logs
    # none of its own, even at DEBUG).
    assert "httpx" in {record.name for record in caplog.records}
    assert SENTINEL not in caplog.text
    assert SENTINEL not in log_text(caplog.records)
    assert SENTINEL not in json.dumps(frames)
    places = await sync_to_async(everything_shown_or_saved)(run, alice)
    for place, text in places.items():
        assert SENTINEL not in text, place
    # What the page shows when a seat fails is the reason, in words.
    if fault is not None:
        assert all(seat.error for seat in seats)
