"""Every fault the simulator injects, through the real HTTP client and ResilientClient over loopback.

Each test checks the state the call ends in (its error kind and message, or an incomplete end),
the text kept, how many requests went out and the waits asked for, and that no connection is
left open. "Open" is checked from both ends:

- the client's: httpx keeps its httpcore pool private (`AsyncClient._transport._pool`), but the
  pool's `connections` and each connection's `is_idle()` / `is_closed()` are httpcore's public
  API. A connection that is neither idle nor closed is still busy with a request nobody reads:
  a leak. Idle ones are fine, they wait in the pool to be reused.
- the server's: the simulator records how each request ended; every one must be finished, and
  a timed-out one must say "disconnected", which only happens when the client hung up.

Waits between attempts go to a recording fake, so nothing here sleeps except the calls whose
time limits are the behaviour under test, and those limits are a fraction of a second.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from chat.fusion.calls import ModelCall
from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.http_client import create_http_client
from chat.providers.policy import RetryPolicy, Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.resilience import ResilientClient
from chat.providers.routing import ModelRouter
from chat.providers.types import ChatRequest, Endpoint, StreamEnd, StreamEvent, TextDelta
from chat.simulator import RequestRecord, Simulator
from tests.providers.conftest import RecordingSleep

MODEL = "moonshotai/kimi-k2.6"
QUESTION = [{"role": "user", "content": "Which database should a small team pick?"}]
# Long enough never to fire by accident, short enough that a test stuck on one fails quickly.
RELAXED = Timeouts(connect=5, first_token=10, stall=10, total=20)


@dataclass
class Outcome:
    """What a caller saw of one call: the events before the end, and the error, if any."""

    events: list[StreamEvent] = field(default_factory=list)
    error: ProviderError | None = None

    @property
    def text(self) -> str:
        return "".join(event.text for event in self.events if isinstance(event, TextDelta))

    @property
    def end(self) -> StreamEvent | None:
        return self.events[-1] if self.events else None


async def consume(client: ModelClient, model: str = MODEL) -> Outcome:
    outcome = Outcome()
    stream = client.stream(ChatRequest(model=model, messages=QUESTION))
    try:
        async for event in stream:
            outcome.events.append(event)
    except ProviderError as error:
        outcome.error = error
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return outcome


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Simulator]:
    # Instant answers; keep-alive comments every 20 ms while a model is held.
    async with Simulator(time_scale=0, keepalive_s=0.02) as simulator:
        yield simulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client() as client:
        yield client


MakeResilient = Callable[..., ResilientClient]


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def resilient(sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep) -> MakeResilient:
    """A ResilientClient over the real client for the simulator; half of full jitter each wait."""

    def make(timeouts: Timeouts = RELAXED, policy: RetryPolicy | None = None) -> ResilientClient:
        inner = OpenAICompatibleClient(sim.endpoint(), http, timeouts=timeouts)
        return ResilientClient(inner, policy or RetryPolicy(), timeouts, sleep=sleep, rand=lambda: 0.5)

    return make


def busy_connections(http: httpx.AsyncClient) -> list[Any]:
    """Connections taken from the pool and not given back (aiohttp's connector, under httpx)."""
    session = http._transport.client  # type: ignore[attr-defined]
    return [] if session is None else list(session.connector._acquired)


async def settled_requests(sim: Simulator) -> list[RequestRecord]:
    """The simulator's requests once every one has ended (the server learns of a hang-up a moment
    after the client hangs up: this waits for that event, it does not sleep)."""
    return await sim.wait_until(lambda records: all(record.finished for record in records), timeout=5)


async def assert_nothing_left_open(http: httpx.AsyncClient, sim: Simulator) -> list[RequestRecord]:
    assert busy_connections(http) == []
    return await settled_requests(sim)


# --- Failures before the answer: retried when they may pass --------------------------------------


@pytest.mark.asyncio
async def test_a_rate_limit_is_waited_out_for_its_retry_after_then_answered(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="rate_limit", fault_times=1, retry_after_s=2)

    outcome = await consume(resilient())

    assert outcome.error is None and len(outcome.text) > 100
    assert outcome.end == StreamEnd(complete=True, finish_reason="stop")
    assert sleep.delays == [2.0]
    requests = await assert_nothing_left_open(http, sim)
    assert [(r.status, r.outcome) for r in requests] == [(429, "rejected"), (200, "completed")]


@pytest.mark.asyncio
async def test_a_long_retry_after_is_capped(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="rate_limit", fault_times=1, retry_after_s=3600)

    outcome = await consume(
        resilient(RELAXED.model_copy(update={"total": 60}), RetryPolicy(retry_after_cap=30))
    )

    assert outcome.error is None
    assert sleep.delays == [30.0]


@pytest.mark.asyncio
async def test_three_server_errors_use_up_three_attempts(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="server_error", fault_times=3)

    outcome = await consume(resilient(policy=RetryPolicy(attempts=3, base_delay=0.5)))

    assert outcome.events == []
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status, outcome.error.retryable) == ("server_error", 500, True)
    assert outcome.error.message == (
        "The provider had a server error (HTTP 500): Internal Server Error (tried 3 times)"
    )
    # Full jitter with rand() = 0.5: half of 0.5 s, then half of 1 s.
    assert sleep.delays == [0.25, 0.5]
    requests = await assert_nothing_left_open(http, sim)
    assert [r.status for r in requests] == [500, 500, 500]


@pytest.mark.asyncio
async def test_two_server_errors_are_followed_by_an_answer_on_the_third_attempt(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="server_error", fault_times=2)

    outcome = await consume(resilient(policy=RetryPolicy(attempts=3)))

    assert outcome.error is None
    assert outcome.end == StreamEnd(complete=True, finish_reason="stop")
    assert len(sleep.delays) == 2
    requests = await assert_nothing_left_open(http, sim)
    assert [r.status for r in requests] == [500, 500, 200]


@pytest.mark.asyncio
async def test_retries_work_through_the_router(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    sim.configure(MODEL, fault="server_error", fault_times=1)
    router = ModelRouter({"sim": OpenAICompatibleClient(sim.endpoint(), http)}, default="sim")
    client = ResilientClient(router, RetryPolicy(), RELAXED, sleep=sleep, rand=lambda: 0.0)

    outcome = await consume(client, model=f"sim::{MODEL}")

    assert outcome.error is None and outcome.text
    assert sleep.delays == [0.0]
    assert [r.model for r in await assert_nothing_left_open(http, sim)] == [MODEL, MODEL]


@pytest.mark.asyncio
async def test_a_refused_connection_is_retried_then_reported(
    http: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    # A port that was free a moment ago: loopback refuses at once, no timing involved.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint(name="Nowhere", base_url=f"http://127.0.0.1:{port}/v1")
    client = ResilientClient(
        OpenAICompatibleClient(endpoint, http, timeouts=RELAXED), RetryPolicy(), RELAXED, sleep=sleep
    )

    outcome = await consume(client)

    assert outcome.error is not None
    assert outcome.error.kind == "connection"
    assert outcome.error.message == "Could not connect to Nowhere. (tried 3 times)"
    assert len(sleep.delays) == 2
    assert busy_connections(http) == []


# --- Failures that will not pass: one request, the provider's reason in plain words -------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "model", "status", "kind", "message"),
    [
        ("unauthorized", MODEL, 401, "auth", "The provider rejected the API key."),
        ("no_credits", MODEL, 402, "credits", "The provider account is out of credits."),
        (
            None,
            "nobody/no-such-model",
            404,
            "not_found",
            "The provider does not know the model 'nobody/no-such-model'.",
        ),
        (
            "context_length",
            MODEL,
            400,
            "context_length",
            "The conversation is too long for this model's context window.",
        ),
    ],
)
async def test_a_permanent_refusal_is_reported_after_one_request(
    sim: Simulator,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    resilient: MakeResilient,
    fault: str | None,
    model: str,
    status: int,
    kind: str,
    message: str,
) -> None:
    if fault is not None:
        sim.configure(MODEL, fault=fault)

    outcome = await consume(resilient(), model=model)

    assert outcome.events == []
    assert outcome.error is not None
    assert (outcome.error.status, outcome.error.kind, outcome.error.retryable) == (status, kind, False)
    assert outcome.error.message == message
    assert sleep.delays == []
    assert [r.status for r in await assert_nothing_left_open(http, sim)] == [status]


# --- Time limits ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_model_that_hangs_before_its_first_token_times_out(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="hang")

    outcome = await consume(resilient(RELAXED.model_copy(update={"first_token": 0.2})))

    assert outcome.events == []
    assert outcome.error is not None and outcome.error.kind == "first_token_timeout"
    assert outcome.error.message == "The model did not start answering within 0.2 s."
    assert sleep.delays == [], "a timeout is not retried"
    requests = await assert_nothing_left_open(http, sim)
    assert [r.outcome for r in requests] == ["disconnected"]


@pytest.mark.asyncio
async def test_keep_alive_comments_do_not_count_as_a_first_token(
    sim: Simulator, http: httpx.AsyncClient, resilient: MakeResilient
) -> None:
    # Held, the model sends a keep-alive comment every 20 ms and no token.
    sim.hold(MODEL)

    outcome = await consume(resilient(RELAXED.model_copy(update={"first_token": 0.2})))

    assert outcome.error is not None and outcome.error.kind == "first_token_timeout"
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == ["disconnected"]


@pytest.mark.asyncio
async def test_a_stall_mid_answer_keeps_the_text_and_is_not_retried(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="stall", fault_after_tokens=5)

    outcome = await consume(resilient(RELAXED.model_copy(update={"stall": 0.2})))

    assert len([event for event in outcome.events if isinstance(event, TextDelta)]) == 5
    assert outcome.error is not None and outcome.error.kind == "stall"
    assert outcome.error.message == "The answer stalled: nothing more arrived for 0.2 s, so it was stopped."
    assert sleep.delays == []
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == ["disconnected"]


@pytest.mark.asyncio
async def test_a_call_past_its_total_limit_is_stopped(
    sim: Simulator, http: httpx.AsyncClient, resilient: MakeResilient
) -> None:
    # Held after three tokens, with keep-alives: neither the first-token nor the stall limit fires.
    sim.hold(MODEL, after_tokens=3)

    outcome = await consume(resilient(RELAXED.model_copy(update={"total": 0.3})))

    assert len(outcome.events) == 3
    assert outcome.error is not None and outcome.error.kind == "total_timeout"
    assert outcome.error.message == "The call took longer than its 0.3 s limit and was stopped."
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == ["disconnected"]


@pytest.mark.asyncio
async def test_a_stall_becomes_the_calls_failure_with_its_text_kept(
    sim: Simulator, http: httpx.AsyncClient, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="stall", fault_after_tokens=5)
    call = ModelCall(
        resilient(RELAXED.model_copy(update={"stall": 0.2})),
        ChatRequest(model=MODEL, messages=QUESTION),
        None,
        clock=lambda: 0.0,
    )

    text = await call.collect()

    assert text and call.text == text
    assert (call.failure_kind, call.complete) == ("stall", False)
    assert call.failure is not None and call.failure.startswith("The answer stalled")
    await assert_nothing_left_open(http, sim)


# --- Broken streams: the text before the break is kept, nothing is retried ----------------------


@pytest.mark.asyncio
async def test_a_stream_cut_mid_answer_ends_incomplete_with_its_text(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    sim.configure(MODEL, fault="cut", fault_after_tokens=5)

    outcome = await consume(resilient())

    assert outcome.error is None
    assert len(outcome.events) == 6
    assert outcome.end == StreamEnd(complete=False, finish_reason=None)
    assert sleep.delays == []
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == ["cut"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        ("malformed", "malformed", "The provider sent a malformed event that is not JSON."),
        (
            "inband_error",
            "inband",
            "The provider stopped the answer with an error: Upstream provider error (simulated)",
        ),
    ],
)
async def test_a_broken_event_mid_answer_keeps_the_text_and_is_not_retried(
    sim: Simulator,
    http: httpx.AsyncClient,
    sleep: RecordingSleep,
    resilient: MakeResilient,
    fault: str,
    kind: str,
    message: str,
) -> None:
    sim.configure(MODEL, fault=fault, fault_after_tokens=5)

    outcome = await consume(resilient())

    assert len(outcome.events) == 5 and outcome.text
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.message) == (kind, message)
    assert sleep.delays == []
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == [fault]


@pytest.mark.asyncio
async def test_an_in_band_error_before_any_token_is_retried(
    sim: Simulator, http: httpx.AsyncClient, sleep: RecordingSleep, resilient: MakeResilient
) -> None:
    # The in-band error says 502: it may pass, and the caller has seen nothing yet.
    sim.configure(MODEL, fault="inband_error", fault_after_tokens=0, fault_times=1)

    outcome = await consume(resilient())

    assert outcome.error is None
    assert outcome.end == StreamEnd(complete=True, finish_reason="stop")
    assert len(sleep.delays) == 1
    assert [r.outcome for r in await assert_nothing_left_open(http, sim)] == ["inband_error", "completed"]


# --- The leak check itself -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_leak_check_sees_a_stream_left_open(sim: Simulator, http: httpx.AsyncClient) -> None:
    # Without this, a check that can never fail would prove nothing above.
    sim.configure(MODEL, fault="stall", fault_after_tokens=5)
    stream = OpenAICompatibleClient(sim.endpoint(), http).stream(ChatRequest(model=MODEL, messages=QUESTION))

    await anext(stream)

    assert len(busy_connections(http)) == 1
    assert not sim.requests[0].finished
    await stream.aclose()
    assert busy_connections(http) == []
    assert [r.outcome for r in await settled_requests(sim)] == ["disconnected"]
