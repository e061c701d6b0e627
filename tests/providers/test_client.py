"""The OpenAI-compatible client against scripted responses, the router, and the shared HTTP client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chat.providers.client import FUSION_DEPTH_HEADER, OpenAICompatibleClient, complete_text
from chat.providers.errors import ProviderError
from chat.providers.http_client import close_http_client, create_http_client, get_http_client
from chat.providers.http_errors import parse_retry_after
from chat.providers.protocol import ModelClient
from chat.providers.routing import ModelRouter, split_model_ref
from chat.providers.types import (
    ChatRequest,
    Endpoint,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
)
from tests.providers.conftest import Provider, ScriptedStream, sse, streaming, text_chunk, usage_chunk

MakeClient = Callable[..., OpenAICompatibleClient]


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


async def collect_until_error(events: AsyncIterator[StreamEvent]) -> tuple[list[StreamEvent], ProviderError]:
    received: list[StreamEvent] = []
    with pytest.raises(ProviderError) as raised:
        async for event in events:
            received.append(event)
    return received, raised.value


async def error_for(make_client: MakeClient, request: ChatRequest, response: httpx.Response) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        await collect(make_client(Provider(response)).stream(request))
    return raised.value


# --- The outgoing request ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_it_posts_to_the_endpoints_chat_completions_url(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    await collect(make_client(provider).stream(request_))

    assert provider.requests[0].method == "POST"
    assert str(provider.requests[0].url) == "https://openrouter.test/api/v1/chat/completions"


@pytest.mark.asyncio
async def test_it_asks_for_a_stream_with_usage(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    await collect(make_client(provider).stream(request_))

    assert provider.last_body == {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.asyncio
async def test_it_sends_the_options_that_are_set(make_client: MakeClient) -> None:
    provider = Provider(streaming(sse("[DONE]")))
    request = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "Hi"}],
        temperature=0.2,
        response_format={"type": "json_object"},
    )

    await collect(make_client(provider).stream(request))

    assert provider.last_body["temperature"] == 0.2
    assert provider.last_body["response_format"] == {"type": "json_object"}
    assert "max_tokens" not in provider.last_body


@pytest.mark.asyncio
async def test_it_sends_the_api_key_as_a_bearer_token(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    await collect(make_client(provider).stream(request_))

    assert provider.requests[0].headers["Authorization"] == "Bearer sk-or-v1-secret"


@pytest.mark.asyncio
async def test_it_sends_no_authorization_when_the_endpoint_has_no_key(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse("[DONE]")))
    ollama = Endpoint(name="ollama", base_url="http://127.0.0.1:11434/v1")

    await collect(make_client(provider, on=ollama).stream(request_))

    assert "Authorization" not in provider.requests[0].headers


@pytest.mark.asyncio
async def test_it_sends_the_endpoints_extra_headers(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    await collect(make_client(provider).stream(request_))

    assert provider.requests[0].headers["X-Title"] == "FusionRoom"


@pytest.mark.asyncio
async def test_every_call_carries_the_fusion_depth_header(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    await collect(make_client(provider).stream(request_))

    assert provider.requests[0].headers[FUSION_DEPTH_HEADER] == "1"


# --- The stream ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_it_yields_the_text_then_a_complete_end(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse(text_chunk("Hel"), text_chunk("lo", finish_reason="stop"), "[DONE]")))

    events = await collect(make_client(provider).stream(request_))

    assert events == [
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
        StreamEnd(complete=True, finish_reason="stop"),
    ]


@pytest.mark.asyncio
async def test_it_reports_usage_before_the_end(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse(text_chunk("Hi"), usage_chunk(10, 2, cost=0.0001), "[DONE]")))

    events = await collect(make_client(provider).stream(request_))

    assert events[-2] == UsageReport(usage=Usage(prompt_tokens=10, completion_tokens=2, cost=0.0001))


@pytest.mark.asyncio
@pytest.mark.parametrize("cost", [-1.0, float("nan"), float("inf")])
async def test_an_endpoints_impossible_cost_arrives_as_unknown(
    cost: float, make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse(text_chunk("Hi"), usage_chunk(10, 2, cost=cost), "[DONE]")))

    events = await collect(make_client(provider).stream(request_))

    assert events[-2] == UsageReport(usage=Usage(prompt_tokens=10, completion_tokens=2, cost=None))


@pytest.mark.asyncio
async def test_it_reads_events_split_across_network_chunks(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = sse(text_chunk("Hello"), "[DONE]")
    provider = Provider(streaming(ScriptedStream([body[:7], body[7:30], body[30:]])))

    events = await collect(make_client(provider).stream(request_))

    assert events == [TextDelta(text="Hello"), StreamEnd(complete=True)]


@pytest.mark.asyncio
async def test_it_keeps_text_when_the_stream_ends_without_done(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse(text_chunk("Hel"), text_chunk("lo"))))

    events = await collect(make_client(provider).stream(request_))

    assert events == [TextDelta(text="Hel"), TextDelta(text="lo"), StreamEnd(complete=False)]


@pytest.mark.asyncio
async def test_it_drops_a_half_received_event_when_the_stream_ends(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    cut = sse(text_chunk("Hel")) + b'data: {"choices": [{"delta": {"content": "lo'
    provider = Provider(streaming(cut))

    events = await collect(make_client(provider).stream(request_))

    assert events == [TextDelta(text="Hel"), StreamEnd(complete=False)]


@pytest.mark.asyncio
async def test_it_ignores_anything_after_done(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(streaming(sse(text_chunk("a"), "[DONE]", text_chunk("b"))))

    events = await collect(make_client(provider).stream(request_))

    assert events == [TextDelta(text="a"), StreamEnd(complete=True)]


@pytest.mark.asyncio
async def test_it_skips_openrouters_keep_alive_comments(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = b": OPENROUTER PROCESSING\n\n" + sse(text_chunk("Hi"), "[DONE]")

    events = await collect(make_client(Provider(streaming(body))).stream(request_))

    assert events == [TextDelta(text="Hi"), StreamEnd(complete=True)]


@pytest.mark.asyncio
async def test_it_raises_an_in_band_error_after_the_text_before_it(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    error = {"error": {"code": "server_error", "message": "Provider disconnected"}, "choices": []}
    provider = Provider(streaming(sse(text_chunk("Partial"), error)))

    received, error_raised = await collect_until_error(make_client(provider).stream(request_))

    assert received == [TextDelta(text="Partial")]
    assert "Provider disconnected" in error_raised.message


@pytest.mark.asyncio
async def test_it_raises_for_an_error_object_sent_as_json_with_200(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    response = httpx.Response(200, json={"error": {"code": 503, "message": "Model is overloaded"}})

    error = await error_for(make_client, request_, response)

    assert "Model is overloaded" in error.message
    assert error.retryable


@pytest.mark.asyncio
async def test_it_raises_when_the_server_does_not_stream(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    completion = {
        "object": "chat.completion",
        "choices": [{"message": {"role": "assistant", "content": "Hi"}}],
    }

    error = await error_for(make_client, request_, httpx.Response(200, json=completion))

    assert "without streaming" in error.message
    assert not error.retryable


@pytest.mark.asyncio
async def test_a_malformed_event_raises_a_permanent_error(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    error = await error_for(make_client, request_, streaming(sse("{oops")))

    assert error.message.startswith("The provider sent a malformed event")
    assert not error.retryable


# --- HTTP errors ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "body", "words", "retryable"),
    [
        (
            401,
            {"error": {"message": "No auth credentials found", "code": 401}},
            "rejected the API key",
            False,
        ),
        (402, {"error": {"message": "Insufficient credits", "code": 402}}, "out of credits", False),
        (
            404,
            {"error": {"message": "No endpoints found"}},
            "does not know the model 'openai/gpt-4o-mini'",
            False,
        ),
        (
            400,
            {
                "error": {
                    "message": "This endpoint's maximum context length is 8192 tokens. You requested 9000."
                }
            },
            "The conversation is too long for this model's context window",
            False,
        ),
        (
            400,
            {"error": {"message": "max_tokens too large", "code": "context_length_exceeded"}},
            "too long for this model's context window",
            False,
        ),
        (
            400,
            {"error": {"message": "temperature must be at most 2"}},
            ": temperature must be at most 2",
            False,
        ),
        (403, {"error": {"message": "Input was flagged by moderation"}}, "flagged by moderation", False),
        (408, {"error": {"message": "Request timeout"}}, "timed out", True),
        (409, {"error": {"message": "Conflict"}}, "conflict", True),
        (429, {"error": {"message": "Rate limit exceeded: free-models-per-min"}}, "rate-limiting", True),
        (500, {"error": {"message": "Internal error"}}, "server error (HTTP 500): Internal error", True),
        (502, {"error": {"message": "Upstream unavailable"}}, "HTTP 502", True),
        (503, {"error": {"message": "No instances available"}}, "HTTP 503", True),
        (418, {"error": {"message": "I'm a teapot"}}, "HTTP 418: I'm a teapot", False),
    ],
)
async def test_it_maps_the_status_to_a_readable_error(
    make_client: MakeClient,
    request_: ChatRequest,
    status: int,
    body: dict[str, Any],
    words: str,
    retryable: bool,
) -> None:
    error = await error_for(make_client, request_, httpx.Response(status, json=body))

    assert words in error.message
    assert (error.status, error.retryable) == (status, retryable)


@pytest.mark.asyncio
async def test_it_quotes_openrouters_upstream_detail(make_client: MakeClient, request_: ChatRequest) -> None:
    body = {"error": {"message": "Provider returned error", "metadata": {"raw": "Invalid schema for tools"}}}

    error = await error_for(make_client, request_, httpx.Response(400, json=body))

    assert "Provider returned error (Invalid schema for tools)" in error.message


@pytest.mark.asyncio
async def test_it_does_not_quote_an_upstream_detail_that_is_not_text(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = {"error": {"message": "Provider returned error", "metadata": {"raw": {"type": "invalid"}}}}

    error = await error_for(make_client, request_, httpx.Response(400, json=body))

    assert error.message == "The provider rejected the request: Provider returned error"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"error": "unknown field 'foo'"},
        {"object": "error", "message": "unknown field 'foo'", "type": "BadRequestError", "code": 400},
        {"detail": "unknown field 'foo'"},
    ],
    ids=["ollama", "vllm", "fastapi"],
)
async def test_it_quotes_the_error_of_other_servers(
    make_client: MakeClient, request_: ChatRequest, body: dict[str, Any]
) -> None:
    error = await error_for(make_client, request_, httpx.Response(400, json=body))

    assert "unknown field 'foo'" in error.message


@pytest.mark.asyncio
async def test_it_does_not_quote_an_html_error_page(make_client: MakeClient, request_: ChatRequest) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"

    error = await error_for(make_client, request_, httpx.Response(502, text=page))

    assert error.message == "The provider had a server error (HTTP 502)."


@pytest.mark.asyncio
async def test_it_reads_retry_after_in_seconds(make_client: MakeClient, request_: ChatRequest) -> None:
    response = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "Slow down"}})

    error = await error_for(make_client, request_, response)

    assert error.retry_after == 7.0


@pytest.mark.asyncio
async def test_it_leaves_retry_after_unknown_when_absent(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    error = await error_for(make_client, request_, httpx.Response(503, json={}))

    assert error.retry_after is None


def test_parse_retry_after_reads_an_http_date_relative_to_now() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0


def test_parse_retry_after_reads_a_past_date_as_no_wait() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", ["soon", "-3", "nan", "inf", ""])
def test_parse_retry_after_ignores_a_value_it_cannot_use(value: str) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.asyncio
async def test_it_redacts_the_api_key_from_a_providers_message(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = {"error": {"message": "Key sk-or-v1-secret is malformed"}}

    error = await error_for(make_client, request_, httpx.Response(400, json=body))

    assert "sk-or-v1-secret" not in error.message
    assert "[redacted]" in error.message


@pytest.mark.asyncio
async def test_it_never_logs_the_api_key(
    make_client: MakeClient, request_: ChatRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"error": {"message": "Key sk-or-v1-secret is malformed"}}

    await error_for(make_client, request_, httpx.Response(400, json=body))

    assert caplog.records
    assert "sk-or-v1-secret" not in caplog.text


def test_its_repr_does_not_show_the_api_key(make_client: MakeClient) -> None:
    assert "sk-or-v1-secret" not in repr(make_client(Provider()))


# --- Connection failures -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_refused_connection_is_a_retryable_error(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(httpx.ConnectError("Connection refused"))

    received, error = await collect_until_error(make_client(provider).stream(request_))

    assert received == []
    assert error.message == "Could not connect to openrouter."
    assert error.retryable


@pytest.mark.asyncio
async def test_a_connect_timeout_is_a_retryable_error(make_client: MakeClient, request_: ChatRequest) -> None:
    provider = Provider(httpx.ConnectTimeout("timed out"))

    _, error = await collect_until_error(make_client(provider).stream(request_))

    assert error.retryable


@pytest.mark.asyncio
async def test_a_read_timeout_mid_answer_keeps_the_text_and_is_retryable(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse(text_chunk("Hel"))], then=httpx.ReadTimeout("timed out"))

    received, error = await collect_until_error(make_client(Provider(streaming(body))).stream(request_))

    assert received == [TextDelta(text="Hel")]
    assert error.retryable


@pytest.mark.asyncio
async def test_a_connection_broken_mid_answer_keeps_the_text_and_is_retryable(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    cut = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    body = ScriptedStream([sse(text_chunk("Hel"))], then=cut)

    received, error = await collect_until_error(make_client(Provider(streaming(body))).stream(request_))

    assert received == [TextDelta(text="Hel")]
    assert error.message == "The connection to openrouter broke off mid-answer."
    assert error.retryable


@pytest.mark.asyncio
async def test_an_invalid_base_url_is_a_permanent_error(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    broken = Endpoint(name="local", base_url="http://local\x00host/v1")

    _, error = await collect_until_error(make_client(Provider(), on=broken).stream(request_))

    assert "not a valid http(s) URL" in error.message
    assert not error.retryable


@pytest.mark.asyncio
async def test_a_base_url_without_a_scheme_is_a_permanent_error(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    # What httpx's real transport raises for "localhost:11434/v1".
    provider = Provider(
        httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
    )

    _, error = await collect_until_error(make_client(provider).stream(request_))

    assert "not a valid http(s) URL" in error.message
    assert not error.retryable


# --- The response is always closed ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_it_closes_the_response_when_the_consumer_stops_early(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse(text_chunk("Hel")), sse(text_chunk("lo"))], hang=True)
    events = make_client(Provider(streaming(body))).stream(request_)

    assert await anext(events) == TextDelta(text="Hel")
    await events.aclose()

    assert body.closed


@pytest.mark.asyncio
async def test_it_closes_the_response_when_the_consumer_is_cancelled(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse(text_chunk("Hel"))], hang=True)
    events = make_client(Provider(streaming(body))).stream(request_)
    consumer = asyncio.create_task(collect(events))
    await body.waiting.wait()

    consumer.cancel()

    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert body.closed


@pytest.mark.asyncio
async def test_it_closes_the_response_at_done_without_waiting_for_the_body_to_end(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse(text_chunk("Hi"), "[DONE]")], hang=True)

    events = await collect(make_client(Provider(streaming(body))).stream(request_))

    assert events[-1] == StreamEnd(complete=True)
    assert body.closed


@pytest.mark.asyncio
async def test_it_closes_the_response_after_an_in_band_error(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse({"error": {"message": "boom"}})], hang=True)

    await collect_until_error(make_client(Provider(streaming(body))).stream(request_))

    assert body.closed


@pytest.mark.asyncio
async def test_it_closes_the_response_after_an_error_status(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([b'{"error": {"message": "nope"}}'])

    await error_for(make_client, request_, httpx.Response(500, stream=body))

    assert body.closed


# --- complete_text -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_complete_returns_the_whole_text_and_usage(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse(text_chunk("Hel"), text_chunk("lo"), usage_chunk(4, 2), "[DONE]")))

    text, usage = await make_client(provider).complete(request_)

    assert (text, usage) == ("Hello", Usage(prompt_tokens=4, completion_tokens=2))


@pytest.mark.asyncio
async def test_complete_raises_a_retryable_error_when_the_answer_is_cut(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse(text_chunk('{"verdict": '))))

    with pytest.raises(ProviderError) as raised:
        await make_client(provider).complete(request_)

    assert raised.value.retryable


# --- Routing -------------------------------------------------------------------------------------


class FakeClient:
    """A ModelClient that answers every request with its own name and records what it was sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append(request)
        yield TextDelta(text=self.name)
        yield StreamEnd(complete=True)


@pytest.fixture
def openrouter() -> FakeClient:
    return FakeClient("openrouter")


@pytest.fixture
def ollama() -> FakeClient:
    return FakeClient("ollama")


@pytest.fixture
def router(openrouter: FakeClient, ollama: FakeClient) -> ModelRouter:
    clients: dict[str, ModelClient] = {"openrouter": openrouter, "ollama": ollama}
    return ModelRouter(clients, default="openrouter")


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("ollama::llama3.2", ("ollama", "llama3.2")),
        ("anthropic/claude-sonnet-4", (None, "anthropic/claude-sonnet-4")),
        ("meta-llama/llama-3.1-8b-instruct:free", (None, "meta-llama/llama-3.1-8b-instruct:free")),
        ("vllm::org/model:tag", ("vllm", "org/model:tag")),
        ("::llama3.2", (None, "llama3.2")),
    ],
)
def test_split_model_ref_separates_the_endpoint_from_the_model(
    ref: str, parts: tuple[str | None, str]
) -> None:
    assert split_model_ref(ref) == parts


@pytest.mark.asyncio
async def test_the_router_sends_a_qualified_model_to_its_endpoint_without_the_qualifier(
    router: ModelRouter, ollama: FakeClient
) -> None:
    events = await collect(router.stream(ChatRequest(model="ollama::llama3.2", messages=[])))

    assert events[0] == TextDelta(text="ollama")
    assert ollama.requests[0].model == "llama3.2"


@pytest.mark.asyncio
async def test_the_router_sends_an_unqualified_model_to_the_default_endpoint(
    router: ModelRouter, openrouter: FakeClient
) -> None:
    await collect(router.stream(ChatRequest(model="openai/gpt-4o", messages=[])))

    assert openrouter.requests[0].model == "openai/gpt-4o"


@pytest.mark.asyncio
async def test_the_router_rejects_an_unknown_endpoint(router: ModelRouter) -> None:
    _, error = await collect_until_error(router.stream(ChatRequest(model="nowhere::x", messages=[])))

    assert "nowhere" in error.message
    assert not error.retryable


@pytest.mark.asyncio
async def test_the_router_rejects_a_reference_without_a_model(router: ModelRouter) -> None:
    _, error = await collect_until_error(router.stream(ChatRequest(model="ollama::", messages=[])))

    assert "names no model" in error.message


def test_the_router_needs_its_default_among_its_clients(openrouter: FakeClient) -> None:
    with pytest.raises(ValueError, match="default"):
        ModelRouter({"openrouter": openrouter}, default="ollama")


@pytest.mark.asyncio
async def test_closing_the_routers_stream_closes_the_routed_response(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    body = ScriptedStream([sse(text_chunk("Hel"))], hang=True)
    router = ModelRouter({"openrouter": make_client(Provider(streaming(body)))}, default="openrouter")
    events = router.stream(request_)

    await anext(events)
    await events.aclose()

    assert body.closed


@pytest.mark.asyncio
async def test_complete_text_works_through_the_router(router: ModelRouter) -> None:
    text, _ = await complete_text(router, ChatRequest(model="ollama::llama3.2", messages=[]))

    assert text == "ollama"


# --- The shared HTTP client ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_http_client_has_explicit_timeouts() -> None:
    async with create_http_client() as http:
        assert http.timeout == httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)


@pytest.mark.asyncio
async def test_the_http_client_ignores_proxy_settings_from_the_environment() -> None:
    async with create_http_client() as http:
        assert not http.trust_env


@pytest.mark.asyncio
async def test_get_http_client_shares_one_client_within_a_loop() -> None:
    try:
        assert get_http_client() is get_http_client()
    finally:
        await close_http_client()


@pytest.mark.asyncio
async def test_get_http_client_replaces_a_closed_client() -> None:
    first = get_http_client()
    await first.aclose()
    try:
        assert get_http_client() is not first
    finally:
        await close_http_client()


def test_get_http_client_gives_each_event_loop_its_own_client() -> None:
    async def client_of_this_loop() -> httpx.AsyncClient:
        client = get_http_client()
        await close_http_client()
        return client

    first = asyncio.run(client_of_this_loop())
    second = asyncio.run(client_of_this_loop())

    assert first is not second


def test_the_shared_client_is_closed_when_its_loop_shuts_down() -> None:
    # Nobody calls close_http_client for asgiref's short-lived loops; left open, aiohttp's
    # session would complain when collected, long after its loop is gone.
    async def client_of_this_loop() -> httpx.AsyncClient:
        return get_http_client()

    client = asyncio.run(client_of_this_loop())

    assert client.is_closed
