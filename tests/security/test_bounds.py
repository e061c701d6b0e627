"""Nothing read from an upstream is unbounded: each attack of issue 16 point 3, played out.

A provider (or anything posing as one) answers 500 with a 200 MB body, sends a 200 MB model
list, a single SSE line that never ends, or an answer, reasoning or tool call that never ends.
Each is refused after reading at most its cap, counted in bytes read, never in time; the
endless ones end "too long" with what arrived up to the cap saved and shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from chat.endpoints.catalog import catalog_cache, load_catalog
from chat.fusion.calls import ModelCall
from chat.fusion.tools import TOOL_SPECS
from chat.models import Conversation, Panel, Run, SeatAnswer
from chat.providers.catalog import fetch_catalog
from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.http_client import create_http_client
from chat.providers.limits import MAX_CATALOG_BYTES, MAX_ERROR_BODY_BYTES
from chat.providers.types import ChatRequest, Endpoint, StreamEnd
from chat.runs import creation, dispatch, services
from chat.runs.dispatch import wait_for_run
from chat.runs.pacing import Pacing
from chat.simulator import Simulator

MODEL = "moonshotai/kimi-k2.6"
MODELS = ["google/gemini-3-flash-preview", MODEL]
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
FLOOD = 200 * 1024 * 1024
CHUNK = 64 * 1024
# What loopback's socket buffers and aiohttp's read buffer may take in before the client stops
# reading: the server gets ahead of the reader by that much, never by the flood.
SOCKET_SLACK = 16 * 1024 * 1024


class CountingFlood(httpx.AsyncByteStream):
    """A body of `size` bytes made as it is read, counting how much of it the reader pulled."""

    def __init__(self, size: int, opening: bytes = b"") -> None:
        self.size, self.opening, self.read = size, opening, 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        block = b"x" * CHUNK
        if self.opening:
            self.read += len(self.opening)
            yield self.opening
        while self.read < self.size:
            self.read += CHUNK
            yield block

    async def aclose(self) -> None:
        self.closed = True


def mock_http(response: httpx.Response) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response))


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(time_scale=0, keepalive_s=0.05) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client() as client:
        yield client


async def error_of(client: OpenAICompatibleClient) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        async for _ in client.stream(ChatRequest(model=MODEL, messages=QUESTION)):
            pass
    return raised.value


# --- Error bodies ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_500_with_a_200_mb_body_is_refused_after_reading_at_most_the_cap() -> None:
    flood = CountingFlood(FLOOD, opening=b'{"error": {"message": "Internal Server Error ')
    http = mock_http(httpx.Response(500, stream=flood, headers={"Content-Type": "application/json"}))
    client = OpenAICompatibleClient(Endpoint(name="flooding", base_url="http://flood.test/v1"), http)

    error = await error_of(client)

    assert (error.kind, error.status) == ("server_error", 500)
    assert flood.read <= MAX_ERROR_BODY_BYTES + CHUNK
    assert flood.closed


@pytest.mark.asyncio
async def test_the_cap_on_error_bodies_is_the_clients_argument() -> None:
    flood = CountingFlood(FLOOD)
    http = mock_http(httpx.Response(502, stream=flood))
    endpoint = Endpoint(name="flooding", base_url="http://flood.test/v1")

    await error_of(OpenAICompatibleClient(endpoint, http, max_error_body_bytes=1024))

    assert flood.read <= 1024 + CHUNK


@pytest.mark.asyncio
async def test_a_200_json_body_instead_of_a_stream_is_read_only_up_to_the_error_cap() -> None:
    flood = CountingFlood(FLOOD, opening=b'{"choices": [{"message": {"content": "')
    http = mock_http(httpx.Response(200, stream=flood, headers={"Content-Type": "application/json"}))
    client = OpenAICompatibleClient(Endpoint(name="flooding", base_url="http://flood.test/v1"), http)

    error = await error_of(client)

    assert error.message == "The provider at flooding answered without streaming."
    assert flood.read <= MAX_ERROR_BODY_BYTES + CHUNK


@pytest.mark.asyncio
async def test_a_simulated_seat_answering_500_with_200_mb_is_cut_off_after_a_sliver(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="huge_error")

    error = await error_of(OpenAICompatibleClient(sim.endpoint(), http))

    assert (error.kind, error.status) == ("server_error", 500)
    # The provider's words are still quoted, from the first bytes.
    assert "Internal Server Error flood" in error.message
    (record,) = await sim.wait_until(lambda records: bool(records) and records[0].finished, timeout=10)
    assert record.outcome == "disconnected"
    assert record.bytes_sent < SOCKET_SLACK < FLOOD


# --- The catalog ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_huge_catalog_is_refused_with_a_clear_message_after_reading_at_most_the_cap(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.flood_catalog(FLOOD)

    with pytest.raises(ProviderError) as raised:
        await fetch_catalog(sim.endpoint(), http, max_bytes=1024 * 1024)

    assert raised.value.kind == "too_large"
    assert raised.value.message == (
        "The model list of Simulator is larger than 1,024 KiB, more than FusionRoom reads."
    )
    assert sim.catalog_bytes_sent < 1024 * 1024 + SOCKET_SLACK


@pytest.mark.asyncio
async def test_a_catalog_that_declares_a_length_over_the_cap_is_not_read_at_all() -> None:
    flood = CountingFlood(FLOOD)
    headers = {"Content-Length": str(FLOOD), "Content-Type": "application/json"}
    http = mock_http(httpx.Response(200, stream=flood, headers=headers))

    with pytest.raises(ProviderError, match="larger than 16,384 KiB"):
        await fetch_catalog(Endpoint(name="flooding", base_url="http://flood.test/v1"), http)

    assert flood.read == 0
    assert MAX_CATALOG_BYTES == 16 * 1024 * 1024


@pytest.mark.asyncio
async def test_a_catalog_error_body_is_read_only_up_to_its_cap() -> None:
    flood = CountingFlood(FLOOD)
    http = mock_http(httpx.Response(500, stream=flood))

    with pytest.raises(ProviderError) as raised:
        await fetch_catalog(Endpoint(name="flooding", base_url="http://flood.test/v1"), http)

    assert raised.value.kind == "server_error"
    assert flood.read <= MAX_ERROR_BODY_BYTES + CHUNK


@pytest.mark.asyncio
async def test_with_one_catalog_flooded_the_other_endpoints_and_the_flooded_ones_models_still_work(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    async with Simulator(time_scale=0) as other:
        sim.flood_catalog(FLOOD)
        flooded, fine = sim.endpoint("flooded"), other.endpoint("fine")
        for endpoint in (flooded, fine):
            catalog_cache.forget(endpoint)

        catalog = await load_catalog([fine, flooded])

        assert catalog.down == {
            "flooded": "The model list of flooded is larger than 16,384 KiB, more than FusionRoom reads."
        }
        assert {entry.info.id for entry in catalog.entries} == set(other.models)
        # The endpoint itself still answers: only its list was refused.
        events = [
            e
            async for e in OpenAICompatibleClient(flooded, http).stream(
                ChatRequest(model=MODEL, messages=QUESTION)
            )
        ]
        assert events[-1] == StreamEnd(complete=True, finish_reason="stop")
        for endpoint in (flooded, fine):
            catalog_cache.forget(endpoint)


# --- Streams --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_single_200_mb_sse_line_ends_the_call_with_a_clear_error(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.configure(MODEL, fault="giant_line", fault_after_tokens=3)
    client = OpenAICompatibleClient(sim.endpoint(), http, max_event_chars=256 * 1024)
    call = ModelCall(client, ChatRequest(model=MODEL, messages=QUESTION), None, clock=lambda: 0.0)

    text = await call.collect()

    assert text  # the three tokens before the flood are kept
    assert call.failure_kind == "too_large"
    assert call.failure == (
        "The provider at Simulator sent a line longer than 262,144 characters; the answer was stopped there."
    )
    (record,) = await sim.wait_until(lambda records: bool(records) and records[0].finished, timeout=10)
    assert record.bytes_sent < SOCKET_SLACK < FLOOD


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "limits", "reason"),
    [
        ("endless_answer", {"answer_chars": 5_000}, "The answer passed the 5,000-character limit"),
        ("endless_reasoning", {"reasoning_chars": 5_000}, "The reasoning passed the 5,000-character limit"),
        (
            "endless_tool_arguments",
            {"tool_argument_chars": 5_000},
            "A tool call's arguments passed the 5,000-character limit",
        ),
    ],
)
async def test_an_endless_call_ends_too_long_at_its_cap(
    sim: Simulator, http: httpx.AsyncClient, fault: str, limits: dict[str, int], reason: str
) -> None:
    from chat.fusion.request import OutputLimits

    sim.configure(MODEL, fault=fault)
    chat = ChatRequest(model=MODEL, messages=QUESTION, tools=TOOL_SPECS)
    call = ModelCall(
        OpenAICompatibleClient(sim.endpoint(), http), chat, None, lambda: 0.0, OutputLimits(**limits)
    )

    await call.collect()

    assert call.failure == f"{reason}; what arrived is kept."
    assert (call.failure_kind, call.complete) == ("too_long", False)
    if fault == "endless_answer":
        assert len(call.text) == 5_000
    if fault == "endless_tool_arguments":
        assert len(call.tool_calls[0]["arguments"]) == 5_000
    (record,) = await sim.wait_until(lambda records: bool(records) and records[0].finished, timeout=10)
    assert record.outcome == "disconnected"


# --- Saved runs -----------------------------------------------------------------------------------


@pytest.fixture
def provider_settings(settings: Any, sim: Simulator, no_catalog: None) -> Any:
    settings.FUSIONROOM_DEMO = False
    settings.FUSIONROOM_RUN_WORKERS = False
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.FUSIONROOM_EXTRA_ENDPOINTS = [Endpoint(name="provider", base_url=sim.base_url)]
    settings.FUSIONROOM_SEARCH_BACKEND = "searxng"
    settings.FUSIONROOM_SEARXNG_URL = sim.web_url
    settings.FUSIONROOM_MAX_ANSWER_CHARS = 5_000
    settings.FUSIONROOM_MAX_REASONING_CHARS = 4_000
    settings.FUSIONROOM_MAX_TOOL_ARGUMENT_CHARS = 3_000
    return settings


def run_on_the_provider(owner: User, *, web_search: bool) -> Run:
    conversation = Conversation.objects.create(owner=owner)
    panel = Panel.objects.create(
        owner=owner,
        name="On the provider",
        seats=[f"provider::{model}" for model in MODELS],
        judge=f"provider::{MODELS[0]}",
        web_search=web_search,
    )
    return creation.create_turn_and_run(conversation, "Why is the sky blue?", panel, simulated=False)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fault", "reason", "web_search"),
    [
        ("endless_answer", "The answer passed the 5,000-character limit; what arrived is kept.", False),
        ("endless_reasoning", "The reasoning passed the 4,000-character limit; what arrived is kept.", False),
        (
            "endless_tool_arguments",
            "A tool call's arguments passed the 3,000-character limit; what arrived is kept.",
            True,
        ),
    ],
)
async def test_an_endless_seat_is_saved_failed_too_long_with_what_arrived(
    provider_settings: Any, sim: Simulator, alice: User, fault: str, reason: str, web_search: bool
) -> None:
    sim.configure(MODELS[1], fault=fault)
    run = await sync_to_async(run_on_the_provider)(alice, web_search=web_search)

    dispatch.dispatch(run.pk, services=services.current().replace(pacing=Pacing(flush_seconds=0.05)))
    await wait_for_run(run.pk)

    healthy, endless = [seat async for seat in SeatAnswer.objects.filter(run_id=run.pk).order_by("index")]
    assert endless.status == SeatAnswer.Status.FAILED
    assert endless.error == reason
    if fault == "endless_answer":
        assert len(endless.text) == 5_000
    if fault == "endless_reasoning":
        assert len(endless.reasoning) == 4_000
    assert healthy.status == SeatAnswer.Status.DONE
    ended = await Run.objects.aget(pk=run.pk)
    assert ended.status == Run.Status.DEGRADED
    assert reason.rstrip(".") in ended.note
