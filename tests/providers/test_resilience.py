"""ResilientClient: the backoff, what is retried and what is not, and the time limits of a call.

Waits between attempts go to a recording fake sleep and chance to a fixed rand, so no test here
sleeps; the time-limit tests wait for limits of a few hundredths of a second, the behaviour under
test, against fake streams the test controls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chat.providers.client import OpenAICompatibleClient
from chat.providers.errors import ProviderError
from chat.providers.policy import RetryPolicy, Timeouts
from chat.providers.resilience import ResilientClient
from chat.providers.types import (
    ChatRequest,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
)
from tests.providers.conftest import Provider, RecordingSleep, ScriptedStream, sse, streaming, text_chunk

MakeClient = Callable[..., OpenAICompatibleClient]
RELAXED = Timeouts(connect=5, first_token=10, stall=10, total=30)
# For the time-limit tests: long enough for a fake stream that is not stuck, short enough to wait.
TIGHT = 0.05


def answer(text: str = "Hello") -> httpx.Response:
    return streaming(sse(text_chunk(text), "[DONE]"))


def refusal(status: int, *, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": f"HTTP {status} said no"}}, headers=headers)


async def consume(
    client: ResilientClient, request: ChatRequest
) -> tuple[list[StreamEvent], ProviderError | None]:
    events: list[StreamEvent] = []
    try:
        async for event in client.stream(request):
            events.append(event)
    except ProviderError as error:
        return events, error
    return events, None


# --- The backoff ---------------------------------------------------------------------------------


def test_the_wait_doubles_with_each_failure_up_to_its_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8)

    ceilings = [policy.delay(n, retry_after=None, rand=lambda: 1.0) for n in range(1, 8)]

    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_full_jitter_takes_a_random_share_of_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=60)

    assert policy.delay(3, retry_after=None, rand=lambda: 0.0) == 0.0
    assert policy.delay(3, retry_after=None, rand=lambda: 0.25) == 1.0


@given(failures=st.integers(1, 50), share=st.floats(0, 1, exclude_max=True))
def test_a_jittered_wait_stays_between_zero_and_the_ceiling(failures: int, share: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8)

    delay = policy.delay(failures, retry_after=None, rand=lambda: share)

    assert 0 <= delay <= min(8, 0.5 * 2 ** (failures - 1))


def test_retry_after_is_honoured_as_it_is() -> None:
    assert RetryPolicy().delay(1, retry_after=7, rand=lambda: 0.0) == 7


def test_retry_after_is_capped() -> None:
    assert RetryPolicy(retry_after_cap=30).delay(1, retry_after=3600, rand=lambda: 0.0) == 30


def test_the_defaults_are_three_attempts_and_a_thirty_second_retry_after_cap() -> None:
    policy = RetryPolicy()

    assert (policy.attempts, policy.retry_after_cap) == (3, 30)


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)


def test_the_default_timeouts() -> None:
    assert Timeouts().model_dump() == {"connect": 10, "first_token": 90, "stall": 45, "total": 600}


@pytest.mark.parametrize("field", ["connect", "first_token", "stall", "total"])
@pytest.mark.parametrize("value", [0, -1, float("inf")])
def test_a_time_limit_must_be_positive_and_finite(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        Timeouts.model_validate({field: value})


def test_reading_is_limited_by_the_first_token_and_stall_limits_not_by_httpx() -> None:
    # A read timeout would be a timer moved at every token, and name the wrong state if it fired.
    timeout = Timeouts(connect=3, first_token=200, stall=45).http_timeout()

    assert timeout.connect == 3
    assert timeout.read is None


# --- What is retried -----------------------------------------------------------------------------


@pytest.fixture
def make_resilient(make_client: MakeClient, sleep: RecordingSleep) -> Callable[..., ResilientClient]:
    def make(
        provider: Provider, *, policy: RetryPolicy | None = None, timeouts: Timeouts = RELAXED
    ) -> ResilientClient:
        return ResilientClient(
            make_client(provider), policy or RetryPolicy(), timeouts, sleep=sleep, rand=lambda: 0.5
        )

    return make


MakeResilient = Callable[..., ResilientClient]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_a_status_that_may_pass_is_retried(
    make_resilient: MakeResilient, sleep: RecordingSleep, request_: ChatRequest, status: int
) -> None:
    provider = Provider(refusal(status), answer())

    events, error = await consume(make_resilient(provider), request_)

    assert error is None
    assert events == [TextDelta(text="Hello"), StreamEnd(complete=True)]
    assert len(provider.requests) == 2
    assert sleep.delays == [0.25]


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
async def test_a_status_that_will_not_pass_fails_at_once(
    make_resilient: MakeResilient, sleep: RecordingSleep, request_: ChatRequest, status: int
) -> None:
    provider = Provider(refusal(status), answer())

    _, error = await consume(make_resilient(provider), request_)

    assert error is not None and error.status == status
    assert len(provider.requests) == 1
    assert sleep.delays == []


@pytest.mark.asyncio
async def test_a_rate_limit_waits_for_its_retry_after(
    make_resilient: MakeResilient, sleep: RecordingSleep, request_: ChatRequest
) -> None:
    provider = Provider(refusal(429, headers={"Retry-After": "7"}), answer())

    _, error = await consume(make_resilient(provider), request_)

    assert error is None
    assert sleep.delays == [7.0]


@pytest.mark.asyncio
async def test_waits_grow_exponentially_between_attempts(
    make_client: MakeClient, sleep: RecordingSleep, request_: ChatRequest
) -> None:
    provider = Provider(*(refusal(503) for _ in range(4)), answer())
    policy = RetryPolicy(attempts=5, base_delay=1, max_delay=60)
    client = ResilientClient(make_client(provider), policy, RELAXED, sleep=sleep, rand=lambda: 0.999)

    _, error = await consume(client, request_)

    assert error is None
    assert sleep.delays == pytest.approx([0.999, 1.998, 3.996, 7.992])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ConnectError("Connection refused"), "connection"),
        (httpx.ConnectTimeout("timed out"), "connect_timeout"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "connection"),
    ],
)
async def test_a_connection_failure_is_retried(
    make_resilient: MakeResilient,
    sleep: RecordingSleep,
    request_: ChatRequest,
    failure: Exception,
    kind: str,
) -> None:
    provider = Provider(failure, failure, failure)

    _, error = await consume(make_resilient(provider), request_)

    assert error is not None and error.kind == kind
    assert len(provider.requests) == 3
    assert error.message.endswith("(tried 3 times)")


@pytest.mark.asyncio
async def test_an_error_after_a_token_is_raised_with_the_token_kept_and_not_retried(
    make_resilient: MakeResilient, sleep: RecordingSleep, request_: ChatRequest
) -> None:
    broken = ScriptedStream([sse(text_chunk("Hel"))], then=httpx.RemoteProtocolError("peer closed"))
    provider = Provider(streaming(broken), answer())

    events, error = await consume(make_resilient(provider), request_)

    assert events == [TextDelta(text="Hel")]
    assert error is not None and (error.kind, error.retryable) == ("cut", True)
    assert error.message == "The connection to openrouter broke off mid-answer."
    assert len(provider.requests) == 1
    assert sleep.delays == []


@pytest.mark.asyncio
async def test_a_break_before_any_token_is_retried(
    make_resilient: MakeResilient, request_: ChatRequest
) -> None:
    broken = ScriptedStream([b": OPENROUTER PROCESSING\n\n"], then=httpx.RemoteProtocolError("peer closed"))
    provider = Provider(streaming(broken), answer())

    events, error = await consume(make_resilient(provider), request_)

    assert error is None and events[0] == TextDelta(text="Hello")
    assert len(provider.requests) == 2


@pytest.mark.asyncio
async def test_a_malformed_event_is_not_retried(make_resilient: MakeResilient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse("{oops")), answer())

    _, error = await consume(make_resilient(provider), request_)

    assert error is not None and error.kind == "malformed"
    assert len(provider.requests) == 1


@pytest.mark.asyncio
async def test_a_single_attempt_keeps_the_providers_message_as_it_is(
    make_resilient: MakeResilient, request_: ChatRequest
) -> None:
    provider = Provider(refusal(503))

    _, error = await consume(make_resilient(provider, policy=RetryPolicy(attempts=1)), request_)

    assert error is not None
    assert error.message == "The provider had a server error (HTTP 503): HTTP 503 said no"


@pytest.mark.asyncio
async def test_the_last_error_says_how_often_the_call_was_tried(
    make_resilient: MakeResilient, request_: ChatRequest
) -> None:
    provider = Provider(refusal(503), refusal(429, headers={"Retry-After": "1"}))

    _, error = await consume(make_resilient(provider, policy=RetryPolicy(attempts=2)), request_)

    assert error is not None
    assert (error.kind, error.status, error.retry_after) == ("rate_limited", 429, 1.0)
    assert error.message == "The provider is rate-limiting requests: HTTP 429 said no (tried 2 times)"


@pytest.mark.asyncio
async def test_it_does_not_wait_past_the_calls_total_limit(
    make_resilient: MakeResilient, sleep: RecordingSleep, request_: ChatRequest
) -> None:
    provider = Provider(refusal(429, headers={"Retry-After": "20"}), answer())
    timeouts = RELAXED.model_copy(update={"total": 10})

    _, error = await consume(make_resilient(provider, timeouts=timeouts), request_)

    assert error is not None and error.kind == "rate_limited"
    assert len(provider.requests) == 1
    assert sleep.delays == []


@pytest.mark.asyncio
async def test_a_failed_attempts_response_is_closed_before_the_wait(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    error_event = {"error": {"code": 502, "message": "Upstream went away"}, "choices": []}
    first = ScriptedStream([sse(error_event)], hang=True)
    closed_when_waiting: list[bool] = []

    async def sleep(seconds: float) -> None:
        closed_when_waiting.append(first.closed)

    client = ResilientClient(
        make_client(Provider(streaming(first), answer())), RetryPolicy(), RELAXED, sleep=sleep
    )

    _, error = await consume(client, request_)

    assert error is None
    assert closed_when_waiting == [True]


@pytest.mark.asyncio
async def test_complete_returns_the_whole_answer_after_a_retry(
    make_resilient: MakeResilient, request_: ChatRequest
) -> None:
    provider = Provider(refusal(500), streaming(sse(text_chunk("Hel"), text_chunk("lo"), "[DONE]")))

    text, usage = await make_resilient(provider).complete(request_)

    assert (text, usage) == ("Hello", Usage())


# --- Time limits, against fake streams -----------------------------------------------------------

Step = StreamEvent | asyncio.Event | float


class FakeModel:
    """A ModelClient whose streams follow scripts: events to yield, an Event to wait for (the
    stream stops there until it is set), or seconds to pause. It records each stream's end."""

    def __init__(self, *scripts: list[Step]) -> None:
        self.scripts = list(scripts)
        self.calls = 0
        self.closed: list[bool] = []

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        script = self.scripts[self.calls]
        self.calls += 1
        self.closed.append(False)
        try:
            for step in script:
                if isinstance(step, asyncio.Event):
                    await step.wait()
                elif isinstance(step, float):
                    await asyncio.sleep(step)
                else:
                    yield step
        finally:
            self.closed[-1] = True


def limited(model: FakeModel, sleep: RecordingSleep, **limits: Any) -> ResilientClient:
    return ResilientClient(model, RetryPolicy(), RELAXED.model_copy(update=limits), sleep=sleep)


@pytest.mark.asyncio
async def test_no_first_token_in_time_is_a_first_token_timeout(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    model = FakeModel([asyncio.Event()])

    events, error = await consume(limited(model, sleep, first_token=TIGHT), request_)

    assert events == []
    assert error is not None and (error.kind, error.retryable) == ("first_token_timeout", True)
    assert error.message == "The model did not start answering within 0.05 s."
    assert model.closed == [True]
    assert (model.calls, sleep.delays) == (1, []), "a timeout is not retried"


@pytest.mark.asyncio
async def test_a_usage_report_is_not_a_first_token(sleep: RecordingSleep, request_: ChatRequest) -> None:
    model = FakeModel([UsageReport(usage=Usage(prompt_tokens=3)), asyncio.Event()])

    _, error = await consume(limited(model, sleep, first_token=TIGHT, stall=10), request_)

    assert error is not None and error.kind == "first_token_timeout"


@pytest.mark.asyncio
async def test_reasoning_is_a_first_token(sleep: RecordingSleep, request_: ChatRequest) -> None:
    model = FakeModel([ReasoningDelta(text="Hmm"), asyncio.Event()])

    events, error = await consume(limited(model, sleep, first_token=10, stall=TIGHT), request_)

    assert events == [ReasoningDelta(text="Hmm")]
    assert error is not None and error.kind == "stall"


@pytest.mark.asyncio
async def test_silence_after_a_token_is_a_stall_with_the_text_kept(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    model = FakeModel([TextDelta(text="Half an "), asyncio.Event()])

    events, error = await consume(limited(model, sleep, stall=TIGHT), request_)

    assert events == [TextDelta(text="Half an ")]
    assert error is not None and error.kind == "stall"
    assert error.message == "The answer stalled: nothing more arrived for 0.05 s, so it was stopped."
    assert model.closed == [True]
    assert sleep.delays == []


@pytest.mark.asyncio
async def test_the_stall_limit_counts_from_the_latest_token(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    # Four pauses of under a third of the limit each: together longer than the limit, each far
    # shorter, so a loaded machine's late wake-ups do not matter.
    pause, stall = 0.06, 0.2
    tokens: list[Step] = [TextDelta(text="a"), pause, TextDelta(text="b"), pause, TextDelta(text="c")]
    model = FakeModel([*tokens, pause, TextDelta(text="d"), pause, StreamEnd(complete=True)])

    events, error = await consume(limited(model, sleep, stall=stall), request_)

    assert error is None and events[-1] == StreamEnd(complete=True)


@pytest.mark.asyncio
async def test_a_call_past_its_total_limit_is_stopped(sleep: RecordingSleep, request_: ChatRequest) -> None:
    # A token every 10 ms never stalls, but it never ends either.
    trickle: list[Step] = [step for _ in range(1000) for step in (TextDelta(text="."), 0.01)]
    model = FakeModel(trickle)

    events, error = await consume(limited(model, sleep, stall=1, total=0.1), request_)

    assert events
    assert error is not None and error.kind == "total_timeout"
    assert error.message == "The call took longer than its 0.1 s limit and was stopped."
    assert model.closed == [True]


@pytest.mark.asyncio
async def test_a_timeout_raised_inside_the_stream_is_not_taken_for_a_limit(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    class Broken(FakeModel):
        async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
            raise TimeoutError("a bug in the client")
            yield  # pragma: no cover

    with pytest.raises(TimeoutError, match="a bug"):
        await consume(limited(Broken(), sleep), request_)


@pytest.mark.asyncio
async def test_stopping_early_closes_the_inner_stream(sleep: RecordingSleep, request_: ChatRequest) -> None:
    model = FakeModel([TextDelta(text="a"), asyncio.Event()])
    stream = limited(model, sleep).stream(request_)

    await anext(stream)
    await stream.aclose()

    assert model.closed == [True]


@pytest.mark.asyncio
async def test_cancelling_the_call_closes_the_inner_stream(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    model = FakeModel([TextDelta(text="a"), asyncio.Event()])
    reached = asyncio.Event()

    async def run() -> None:
        async for _ in limited(model, sleep).stream(request_):
            reached.set()

    task = asyncio.create_task(run())
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert model.closed == [True]


@pytest.mark.asyncio
async def test_keep_alive_comments_do_not_hold_off_the_first_token_timeout(
    make_client: MakeClient, sleep: RecordingSleep, request_: ChatRequest
) -> None:
    class KeepAlives(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            while True:
                yield b": OPENROUTER PROCESSING\n\n"
                await asyncio.sleep(TIGHT / 5)

    provider = Provider(
        httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=KeepAlives())
    )
    client = ResilientClient(
        make_client(provider), RetryPolicy(), RELAXED.model_copy(update={"first_token": TIGHT}), sleep=sleep
    )

    _, error = await consume(client, request_)

    assert error is not None and error.kind == "first_token_timeout"


@pytest.mark.asyncio
async def test_time_the_caller_spends_between_events_is_not_a_stall(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    model = FakeModel([TextDelta(text="a"), TextDelta(text="b"), StreamEnd(complete=True)])
    events: list[StreamEvent] = []

    async for event in limited(model, sleep, stall=TIGHT).stream(request_):
        events.append(event)
        # A slow reader: the model had its next event ready all along.
        await asyncio.sleep(TIGHT * 2)

    assert events[-1] == StreamEnd(complete=True)


@pytest.mark.asyncio
async def test_a_limit_that_passes_leaves_the_callers_task_uncancelled(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    # The limit stops a wait by cancelling the task that waits: once it is a ProviderError,
    # nothing of that cancellation may be left to strike the caller's next await.
    model = FakeModel([TextDelta(text="a"), asyncio.Event()])

    _, error = await consume(limited(model, sleep, stall=TIGHT), request_)
    await asyncio.sleep(0)

    assert error is not None and error.kind == "stall"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


@pytest.mark.asyncio
async def test_a_stall_after_a_long_stream_is_still_caught(
    sleep: RecordingSleep, request_: ChatRequest
) -> None:
    # The limit's timer is moved only when it fires, not at each token: after many tokens, and
    # after the first token's longer limit, a silence is still caught as a stall.
    tokens: list[Step] = [TextDelta(text=".") for _ in range(500)]
    model = FakeModel([*tokens, asyncio.Event()])

    events, error = await consume(limited(model, sleep, first_token=10, stall=TIGHT), request_)

    assert len(events) == 500
    assert error is not None and error.kind == "stall"
