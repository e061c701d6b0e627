"""Every failure the client raises names its kind, so the UI and the retry loop can tell them apart."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from chat.providers.chunks import ChunkReader
from chat.providers.client import OpenAICompatibleClient, complete_text
from chat.providers.errors import ProviderError
from chat.providers.policy import Timeouts
from chat.providers.routing import ModelRouter
from chat.providers.types import ChatRequest, Endpoint
from tests.providers.conftest import Provider, ScriptedStream, sse, streaming, text_chunk

MakeClient = Callable[..., OpenAICompatibleClient]


async def error_of(client: OpenAICompatibleClient | ModelRouter, request: ChatRequest) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        async for _ in client.stream(request):
            pass
    return raised.value


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": {"message": "This model's maximum context length is 8192 tokens"}}, "context_length"),
        (413, {"error": {"message": "prompt is too long"}}, "context_length"),
        (400, {"error": {"message": "temperature must be at most 2"}}, "bad_request"),
        (422, {"detail": "messages: field required"}, "bad_request"),
        (401, {"error": {"message": "No auth credentials found"}}, "auth"),
        (402, {"error": {"message": "Insufficient credits"}}, "credits"),
        (403, {"error": {"message": "flagged by moderation"}}, "forbidden"),
        (404, {"error": {"message": "no such model"}}, "not_found"),
        (405, {"error": {"message": "method not allowed"}}, "bad_request"),
        (408, {"error": {"message": "request timeout"}}, "server_error"),
        (409, {"error": {"message": "conflict"}}, "server_error"),
        (429, {"error": {"message": "slow down"}}, "rate_limited"),
        (500, {"error": {"message": "oops"}}, "server_error"),
        (503, {"error": {"message": "overloaded"}}, "server_error"),
    ],
)
async def test_each_status_has_its_kind(
    make_client: MakeClient, request_: ChatRequest, status: int, body: dict[str, object], kind: str
) -> None:
    error = await error_of(make_client(Provider(httpx.Response(status, json=body))), request_)

    assert (error.status, error.kind) == (status, kind)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ConnectTimeout("timed out"), "connect_timeout"),
        (httpx.ConnectError("refused"), "connection"),
        (httpx.PoolTimeout("no connection free"), "busy"),
        (httpx.ReadTimeout("nothing came"), "first_token_timeout"),
        (httpx.WriteTimeout("could not send"), "connection"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "connection"),
        (httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."), "config"),
    ],
)
async def test_each_failure_to_get_a_response_has_its_kind(
    make_client: MakeClient, request_: ChatRequest, failure: Exception, kind: str
) -> None:
    error = await error_of(make_client(Provider(failure)), request_)

    assert error.kind == kind


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ReadTimeout("nothing more came"), "stall"),
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), "cut"),
        (httpx.ReadError("connection reset"), "cut"),
    ],
)
async def test_each_break_mid_answer_has_its_kind(
    make_client: MakeClient, request_: ChatRequest, failure: Exception, kind: str
) -> None:
    body = ScriptedStream([sse(text_chunk("Hel"))], then=failure)

    error = await error_of(make_client(Provider(streaming(body))), request_)

    assert (error.kind, error.retryable) == (kind, True)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ("{not json", "malformed"),
        ('{"choices": {"delta": {}}}', "malformed"),
        ('{"error": {"code": 502, "message": "Upstream error"}, "choices": []}', "inband"),
        ('{"choices": [{"delta": {"content": ""}, "finish_reason": "error"}]}', "inband"),
    ],
)
def test_each_bad_event_has_its_kind(payload: str, kind: str) -> None:
    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert raised.value.kind == kind


@pytest.mark.asyncio
async def test_an_answer_that_is_not_streamed_is_malformed(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    completion = {"object": "chat.completion", "choices": [{"message": {"content": "Hi"}}]}

    error = await error_of(make_client(Provider(httpx.Response(200, json=completion))), request_)

    assert error.kind == "malformed"


@pytest.mark.asyncio
async def test_a_whole_answer_cut_short_is_cut(make_client: MakeClient, request_: ChatRequest) -> None:
    client = make_client(Provider(streaming(sse(text_chunk("Hel")))))

    with pytest.raises(ProviderError) as raised:
        await complete_text(client, request_)

    assert raised.value.kind == "cut"


@pytest.mark.asyncio
@pytest.mark.parametrize("ref", ["nowhere::model", "openrouter::"])
async def test_a_model_reference_no_endpoint_serves_is_not_found(make_client: MakeClient, ref: str) -> None:
    router = ModelRouter({"openrouter": make_client(Provider())}, default="openrouter")

    error = await error_of(router, ChatRequest(model=ref, messages=[]))

    assert (error.kind, error.retryable) == ("not_found", False)


def test_an_error_without_a_kind_says_none() -> None:
    assert ProviderError("Something else.").kind is None


# --- The connect limit travels with each request -------------------------------------------------


@pytest.mark.asyncio
async def test_the_client_sends_each_request_with_the_configured_timeouts(
    endpoint: Endpoint, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse("[DONE]")))
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider))
    client = OpenAICompatibleClient(endpoint, http, timeouts=Timeouts(connect=3, first_token=60, stall=20))

    async for _ in client.stream(request_):
        pass

    sent = provider.requests[0].extensions["timeout"]
    assert sent["connect"] == 3
    assert sent["read"] is None  # reading is ResilientClient's to limit (first token, stall)


@pytest.mark.asyncio
async def test_without_timeouts_the_client_uses_the_http_clients_own(
    make_client: MakeClient, request_: ChatRequest
) -> None:
    provider = Provider(streaming(sse("[DONE]")))

    async for _ in make_client(provider).stream(request_):
        pass

    assert provider.requests[0].extensions["timeout"] == httpx.Timeout(5.0).as_dict()
