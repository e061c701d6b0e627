"""The streaming client for one OpenAI-compatible chat-completions API."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from chat.providers.chunks import ChunkReader
from chat.providers.errors import ProviderError
from chat.providers.http_errors import read_error, transport_error
from chat.providers.limits import MAX_ERROR_BODY_BYTES, MAX_EVENT_CHARS, read_at_most
from chat.providers.policy import Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.sse import EventTooLarge, SSEDecoder
from chat.providers.types import (
    ChatRequest,
    Endpoint,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
)


def endpoint_url(endpoint: Endpoint, path: str) -> str:
    """`path` ("models", "chat/completions") under the base URL's path, joined by parts: it
    stays in the path even when the base URL has a query or a fragment (the fragment is
    dropped, a query kept after the path). Users' base URLs have neither (chat/endpoints/guard.py)."""
    base = urlsplit(endpoint.base_url)
    return urlunsplit((base.scheme, base.netloc, f"{base.path.rstrip('/')}/{path}", base.query, ""))


# Sent with every call FusionRoom makes to a model API. A FusionRoom that receives it on a request
# for a fusion model is being asked by a fusion run (itself added as an endpoint of itself, or
# behind a gateway that forwards headers) and refuses: fusion calling fusion never ends.
FUSION_DEPTH_HEADER = "X-FusionRoom-Depth"


def endpoint_headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {**endpoint.extra_headers, FUSION_DEPTH_HEADER: "1"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    return headers


class OpenAICompatibleClient:
    """A ModelClient for one OpenAI-compatible endpoint, over a shared httpx.AsyncClient.

    `timeouts`, when given, sets each request's httpx timeouts (its connect limit above all);
    without it the shared client's own apply. The first-token, stall and total limits are
    ResilientClient's to enforce. Of what comes back it reads at most `max_error_body_bytes` of
    an error body (or of a JSON body sent instead of a stream), and no line or event longer
    than `max_event_chars`.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        http: httpx.AsyncClient,
        *,
        timeouts: Timeouts | None = None,
        max_error_body_bytes: int = MAX_ERROR_BODY_BYTES,
        max_event_chars: int = MAX_EVENT_CHARS,
    ) -> None:
        self.endpoint = endpoint
        self._http = http
        self._timeout = timeouts.http_timeout() if timeouts is not None else httpx.USE_CLIENT_DEFAULT
        self._max_error_body_bytes = max_error_body_bytes
        self._max_event_chars = max_event_chars

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient({self.endpoint.name!r}, {self.endpoint.base_url!r})"

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Yield the answer's deltas and usage, then StreamEnd; see ModelClient.stream.

        StreamEnd is complete after `data: [DONE]`, and incomplete when the body ended without
        it. A connection that breaks mid-body raises a retryable ProviderError instead: the
        provider did not end the answer, the network did. Usage may be reported more than once
        (some servers send running totals); the last report is the call's total. The response
        is closed however the iteration ends: [DONE], an error, aclose() or cancellation.
        """
        responding = False
        try:
            async with self._http.stream(
                "POST",
                endpoint_url(self.endpoint, "chat/completions"),
                json=self._body(request),
                headers={
                    **endpoint_headers(self.endpoint),
                    **request.headers(),
                    "Accept": "text/event-stream",
                },
                timeout=self._timeout,
            ) as response:
                responding = True
                await self._check(response, request.model)
                decoder = SSEDecoder(self._max_event_chars)
                reader = ChunkReader()
                async for chunk in response.aiter_bytes():
                    for event in _events_of(decoder.feed(chunk), reader):
                        yield event
                    if reader.done:
                        # Nothing after [DONE] belongs to the answer: stop reading and let the
                        # `async with` close the response.
                        break
                else:
                    for event in _events_of(decoder.close(), reader):
                        yield event
                yield StreamEnd(complete=reader.done, finish_reason=reader.finish_reason)
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise transport_error(exc, endpoint=self.endpoint, responding=responding) from exc
        except EventTooLarge as exc:
            # Not retryable: the same request would bring the same flood.
            raise ProviderError(
                f"The provider at {self.endpoint.name} sent a line longer than "
                f"{exc.limit:,} characters; the answer was stopped there.",
                kind="too_large",
            ) from exc

    async def complete(self, request: ChatRequest) -> tuple[str, Usage]:
        """The whole answer and its usage; see complete_text."""
        return await complete_text(self, request)

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        return {
            **request.model_dump(mode="json", exclude_none=True),
            "stream": True,
            # Without this, OpenAI-style servers send no usage at all in a streamed answer.
            "stream_options": {"include_usage": True},
        }

    async def _check(self, response: httpx.Response, model: str) -> None:
        """Raise ProviderError unless the response is a 2xx event stream."""
        if not response.is_success:
            raise await read_error(
                response, endpoint=self.endpoint, model=model, max_body_bytes=self._max_error_body_bytes
            )
        if response.headers.get("Content-Type", "").split(";")[0].strip() == "application/json":
            # Either an error object sent with 200, which reading it as a chunk raises, or a
            # server that ignored `stream: true`. Read as an error body: never more than its cap.
            body, cut = await read_at_most(response, self._max_error_body_bytes)
            if not cut:
                ChunkReader().read(body.decode("utf-8", errors="replace"))
            raise ProviderError(
                f"The provider at {self.endpoint.name} answered without streaming.", kind="malformed"
            )


def _events_of(payloads: Iterable[str], reader: ChunkReader) -> Iterator[StreamEvent]:
    # A generator, so events read before a bad payload in the same chunk still reach the caller.
    for payload in payloads:
        if reader.done:
            return
        yield from reader.read(payload)


async def complete_text(client: ModelClient, request: ChatRequest) -> tuple[str, Usage]:
    """Run a call to its end and return the text and usage (for the judge, which needs it whole).

    Raises ProviderError as the stream does, and a retryable one when the stream ended before
    the provider finished: a half answer is no use to a caller that parses the whole.
    """
    parts: list[str] = []
    usage = Usage()
    complete = False
    events = client.stream(request)
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, UsageReport):
                usage = event.usage
            elif isinstance(event, StreamEnd):
                complete = event.complete
    finally:
        await close_stream(events)
    if not complete:
        raise ProviderError(
            "The answer was cut off before the provider finished it.", retryable=True, kind="cut"
        )
    return "".join(parts), usage


async def close_stream(events: AsyncIterator[Any]) -> None:
    """Close a ModelClient's stream that the caller stops reading (the router's, complete_text's)."""
    # The protocol promises only an AsyncIterator, but an async generator left unclosed would
    # keep its HTTP response open until the garbage collector finalises it.
    if isinstance(events, AsyncGenerator):
        await events.aclose()
