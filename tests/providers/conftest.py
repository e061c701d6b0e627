"""Fake provider responses for the client tests: SSE bodies, scripted byte streams, a recorder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from chat.providers.client import OpenAICompatibleClient
from chat.providers.types import ChatRequest, Endpoint

SSE_HEADERS = {"Content-Type": "text/event-stream"}


def sse(*payloads: str | dict[str, Any]) -> bytes:
    """An event-stream body with one event per payload; dicts are sent as JSON."""
    events = (p if isinstance(p, str) else json.dumps(p) for p in payloads)
    return "".join(f"data: {event}\n\n" for event in events).encode()


def text_chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish_reason}],
    }


def usage_chunk(prompt_tokens: int, completion_tokens: int, cost: float | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    if cost is not None:
        usage["cost"] = cost
    return {"object": "chat.completion.chunk", "choices": [], "usage": usage}


class ScriptedStream(httpx.AsyncByteStream):
    """A response body that sends its chunks, then ends, raises, or hangs; it records its closing."""

    def __init__(self, chunks: list[bytes], *, then: BaseException | None = None, hang: bool = False) -> None:
        self.chunks = chunks
        self.then = then
        self.hang = hang
        self.closed = False
        self.chunks_sent = 0
        # Set when the body has sent everything and waits for data that never comes.
        self.waiting = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.chunks_sent += 1
            yield chunk
        if self.then is not None:
            raise self.then
        if self.hang:
            self.waiting.set()
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


class RecordingSleep:
    """Stands in for asyncio.sleep in ResilientClient: records each wait asked for, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Provider:
    """A MockTransport handler that answers each request with the next scripted response."""

    def __init__(self, *responses: httpx.Response | BaseException) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, BaseException):
            raise response
        return response

    @property
    def last_body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


def streaming(body: ScriptedStream | bytes) -> httpx.Response:
    """A 200 event-stream response; keep the ScriptedStream to see whether it was closed."""
    stream = body if isinstance(body, ScriptedStream) else ScriptedStream([body])
    return httpx.Response(200, headers=SSE_HEADERS, stream=stream)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def endpoint() -> Endpoint:
    return Endpoint(
        name="openrouter",
        base_url="https://openrouter.test/api/v1/",
        api_key="sk-or-v1-secret",
        extra_headers={"X-Title": "FusionRoom"},
    )


@pytest.fixture
def request_() -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])


@pytest.fixture
def make_client(endpoint: Endpoint) -> Callable[..., OpenAICompatibleClient]:
    def make(provider: Provider, *, on: Endpoint = endpoint) -> OpenAICompatibleClient:
        return OpenAICompatibleClient(on, httpx.AsyncClient(transport=httpx.MockTransport(provider)))

    return make
