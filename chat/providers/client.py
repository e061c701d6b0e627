"""The streaming client for OpenAI-compatible chat-completions APIs, and the router in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import BaseModel, ConfigDict, ValidationError

from chat.providers.chunks import ChunkReader, is_retryable_status
from chat.providers.errors import ErrorKind, ProviderError
from chat.providers.policy import Timeouts
from chat.providers.protocol import ModelClient
from chat.providers.sse import SSEDecoder
from chat.providers.types import (
    ChatRequest,
    Endpoint,
    StreamEnd,
    StreamEvent,
    TextDelta,
    Usage,
    UsageReport,
)

logger = logging.getLogger(__name__)

MODEL_REF_SEPARATOR = "::"

# Words providers use when a request does not fit the model's context window: OpenAI's
# `context_length_exceeded`, vLLM's and OpenRouter's "maximum context length is N tokens",
# Anthropic's "prompt is too long".
_CONTEXT_WORDS = (
    "context_length",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
)
# Longest provider detail quoted to the user; some gateways send whole HTML pages.
_MAX_DETAIL = 300


# --- The process-wide HTTP client ---------------------------------------------------------------


def create_http_client() -> httpx.AsyncClient:
    """A new HTTP client configured for model APIs; the process should need only one per loop.

    httpx's API over aiohttp's connections: every streamed token is one read, and httpcore's
    reads through anyio cost about twice aiohttp's (bench/README.md, CPU per token).
    """
    # Proxies, netrc credentials and CA bundles come from our configuration, not from whatever
    # environment the server was started in: trust_env is off for the transport and the client.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False),
        # A streamed answer may pause while a model thinks: reads get two minutes, the rest less.
        timeout=httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0),
        trust_env=False,
    )


# One client per running event loop. An httpx client's pooled connections belong to the loop
# that opened them, and a process can run several loops: Daphne's, the fresh ones Django's
# async_to_sync creates in worker threads, pytest-asyncio's one per test. Keyed weakly, so a
# loop that is gone takes its client's entry with it; the entry also holds the generator that
# closes the client when its loop shuts down (see _closed_at_shutdown).
_clients_by_loop: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
] = weakref.WeakKeyDictionary()


def get_http_client() -> httpx.AsyncClient:
    """The shared HTTP client of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    entry = _clients_by_loop.get(loop)
    if entry is None or entry[0].is_closed:
        client = create_http_client()
        _clients_by_loop[loop] = (client, _closed_at_shutdown(client))
        return client
    return entry[0]


def _closed_at_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """An async generator, started and left at its yield, whose `finally` closes the client.

    asyncio has no hook for "this loop is ending", but asyncio.run(), asgiref's loops and
    pytest-asyncio's all close the loop's suspended async generators first
    (loop.shutdown_asyncgens), so the connections are closed on their own loop, and aiohttp
    does not complain later of a session left unclosed.
    """

    async def wait_for_shutdown() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await client.aclose()

    closer = wait_for_shutdown()
    # Runs to the yield at once (nothing before it awaits) and registers with the loop.
    with contextlib.suppress(StopIteration):
        closer.__anext__().send(None)
    return closer


async def close_http_client() -> None:
    """Close the running loop's shared client, if it has one (at shutdown, or after a test)."""
    entry = _clients_by_loop.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        _, closer = entry
        await closer.aclose()  # its `finally` closes the client


# --- Requests and the errors they can end in ----------------------------------------------------


def endpoint_url(endpoint: Endpoint, path: str) -> str:
    return f"{endpoint.base_url.rstrip('/')}/{path}"


def endpoint_headers(endpoint: Endpoint) -> dict[str, str]:
    headers = dict(endpoint.extra_headers)
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    return headers


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ErrorMetadata(_Wire):
    # OpenRouter passes the upstream provider's own error through here, as text or as JSON;
    # only text is worth quoting.
    raw: Any = None


class _ErrorObject(_Wire):
    message: str | None = None
    code: int | str | None = None
    metadata: _ErrorMetadata | None = None


class _ErrorBody(_Wire):
    # OpenAI and OpenRouter: {"error": {...}}; Ollama: {"error": "..."}; vLLM: {"message": "..."};
    # FastAPI-based servers: {"detail": "..."}.
    error: _ErrorObject | str | None = None
    message: str | None = None
    detail: str | None = None


def error_from_response(
    response: httpx.Response, *, endpoint: Endpoint, model: str | None = None
) -> ProviderError:
    """The ProviderError for a non-2xx response whose body has been read."""
    status = response.status_code
    detail = _error_detail(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    message = _status_message(status, detail, body=response.text, model=model)
    kind = _status_kind(status, body=response.text)
    if endpoint.api_key:
        # Some providers quote the key they refused; it must not reach the page or the logs.
        message = message.replace(endpoint.api_key, "[redacted]")
    # The path and status only: the request's headers hold the key.
    logger.warning("%s answered HTTP %s to %s", endpoint.name, status, response.request.url.path)
    return ProviderError(
        message, status=status, retryable=is_retryable_status(status), retry_after=retry_after, kind=kind
    )


def _status_kind(status: int, *, body: str) -> ErrorKind:
    if status in (400, 413, 422) and _mentions_context_window(body):
        return "context_length"
    named: dict[int, ErrorKind] = {401: "auth", 402: "credits", 403: "forbidden", 404: "not_found"}
    if status in named:
        return named[status]
    if status == 429:
        return "rate_limited"
    if is_retryable_status(status):
        return "server_error"
    return "bad_request"


def _status_message(status: int, detail: str | None, *, body: str, model: str | None) -> str:
    said = f": {detail}" if detail else "."
    if status in (400, 413, 422) and _mentions_context_window(body):
        return "The conversation is too long for this model's context window."
    if status == 400 or status == 422:
        return f"The provider rejected the request{said}"
    if status == 401:
        return "The provider rejected the API key."
    if status == 402:
        return "The provider account is out of credits."
    if status == 403:
        return f"The provider refused the request{said}"
    if status == 404:
        if model is not None:
            return f"The provider does not know the model {model!r}."
        return f"The provider has nothing at this address{said}"
    if status == 408:
        return "The provider timed out before it read the request."
    if status == 409:
        return "The provider reported a conflict with another request."
    if status == 413:
        return "The request is too large for the provider."
    if status == 429:
        return f"The provider is rate-limiting requests{said}"
    if status >= 500:
        return f"The provider had a server error (HTTP {status}){said}"
    return f"The provider answered HTTP {status}{said}"


def _mentions_context_window(body: str) -> bool:
    lowered = body.lower()
    return any(words in lowered for words in _CONTEXT_WORDS)


def _error_detail(response: httpx.Response) -> str | None:
    """The provider's own words about the error, shortened, or None when it gave none."""
    try:
        parsed = _ErrorBody.model_validate_json(response.content)
    except ValidationError:
        text = response.text.strip()
        # A short plain-text body is worth showing; an HTML error page is not.
        return _shorten(text) if text and not text.startswith("<") else None
    detail: str | None
    if isinstance(parsed.error, _ErrorObject):
        detail = parsed.error.message
        raw = parsed.error.metadata.raw if parsed.error.metadata else None
        if isinstance(raw, str) and raw.strip():
            # OpenRouter's own message is often just "Provider returned error".
            detail = f"{detail} ({raw})" if detail else raw
    else:
        detail = parsed.error or parsed.message or parsed.detail
    return _shorten(detail.strip()) if detail and detail.strip() else None


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), if usable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        # A date already past means "now", not "never".
        return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def transport_error(
    exc: httpx.RequestError | httpx.InvalidURL, *, endpoint: Endpoint, responding: bool
) -> ProviderError:
    """The ProviderError for a request that failed below HTTP: no connection, a timeout, a cut.

    `responding` says whether the response had begun, which tells a refused connection from a
    broken one.
    """
    name = endpoint.name
    exc = _what_aiohttp_meant(exc)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return ProviderError(f"The address configured for {name} is not a valid http(s) URL.", kind="config")
    kind: ErrorKind
    if isinstance(exc, httpx.ConnectTimeout):
        message, kind = f"Could not connect to {name}: it did not answer in time.", "connect_timeout"
    elif isinstance(exc, httpx.ConnectError):
        message, kind = f"Could not connect to {name}.", "connection"
    elif isinstance(exc, httpx.PoolTimeout):
        message = f"Too many calls to {name} are already running; this one could not start in time."
        kind = "busy"
    elif isinstance(exc, httpx.ReadTimeout) and responding:
        # Only a backstop: ResilientClient's stall timer normally fires long before.
        message, kind = f"The answer from {name} stalled and timed out.", "stall"
    elif isinstance(exc, httpx.ReadTimeout):
        message, kind = f"No answer from {name} came in time.", "first_token_timeout"
    elif isinstance(exc, httpx.WriteTimeout):
        message, kind = f"Sending the request to {name} timed out.", "connection"
    elif responding:
        message, kind = f"The connection to {name} broke off mid-answer.", "cut"
    else:
        message, kind = f"The connection to {name} failed before it answered.", "connection"
    return ProviderError(message, retryable=True, kind=kind)


def _what_aiohttp_meant(exc: httpx.RequestError | httpx.InvalidURL) -> httpx.RequestError | httpx.InvalidURL:
    """httpx's error for the aiohttp error the transport chained, where its own mapping is too
    coarse: it reports a refused connection and a server that hangs up mid-answer alike, as a
    connect timeout."""
    cause = exc.__cause__
    if not isinstance(cause, aiohttp.ClientError):
        return exc
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(cause))
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(str(cause))
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(cause))
    if isinstance(cause, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # A connection that closed or broke: before the answer began, or mid-answer.
        return httpx.ReadError(str(cause))
    return exc


# --- The client ---------------------------------------------------------------------------------


class OpenAICompatibleClient:
    """A ModelClient for one OpenAI-compatible endpoint, over a shared httpx.AsyncClient.

    `timeouts`, when given, sets each request's httpx timeouts (its connect limit above all);
    without it the shared client's own apply. The first-token, stall and total limits are
    ResilientClient's to enforce.
    """

    def __init__(
        self, endpoint: Endpoint, http: httpx.AsyncClient, *, timeouts: Timeouts | None = None
    ) -> None:
        self.endpoint = endpoint
        self._http = http
        self._timeout = timeouts.http_timeout() if timeouts is not None else httpx.USE_CLIENT_DEFAULT

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
                headers={**endpoint_headers(self.endpoint), "Accept": "text/event-stream"},
                timeout=self._timeout,
            ) as response:
                responding = True
                await self._check(response, request.model)
                decoder = SSEDecoder()
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
            await response.aread()
            raise error_from_response(response, endpoint=self.endpoint, model=model)
        if response.headers.get("Content-Type", "").split(";")[0].strip() == "application/json":
            # Either an error object sent with 200, which reading it as a chunk raises, or a
            # server that ignored `stream: true`.
            await response.aread()
            ChunkReader().read(response.text)
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
        await _aclose(events)
    if not complete:
        raise ProviderError(
            "The answer was cut off before the provider finished it.", retryable=True, kind="cut"
        )
    return "".join(parts), usage


async def _aclose(events: AsyncIterator[Any]) -> None:
    # The protocol promises only an AsyncIterator, but an async generator left unclosed would
    # keep its HTTP response open until the garbage collector finalises it.
    if isinstance(events, AsyncGenerator):
        await events.aclose()


# --- Routing by endpoint ------------------------------------------------------------------------


def split_model_ref(ref: str) -> tuple[str | None, str]:
    """Split "endpoint::model" into its endpoint name and model id; (None, ref) when unqualified.

    An empty qualifier ("::model") also means the default endpoint. Only the first "::" splits,
    and single colons are left alone: OpenRouter ids such as "meta-llama/llama-3-8b:free" use them.
    """
    endpoint, separator, model = ref.partition(MODEL_REF_SEPARATOR)
    if not separator:
        return None, ref
    return endpoint or None, model


class ModelRouter:
    """A ModelClient that sends "endpoint::model" to that endpoint's client, unqualified ids to
    the default one, and strips the qualifier before the request leaves."""

    def __init__(self, clients: Mapping[str, ModelClient], default: str) -> None:
        if default not in clients:
            raise ValueError(f"The default endpoint {default!r} is not among {sorted(clients)}.")
        self._clients = dict(clients)
        self._default = default

    def route(self, ref: str) -> tuple[ModelClient, str]:
        """The client for a model reference and the model id to send it; ProviderError if none."""
        name, model = split_model_ref(ref)
        client = self._clients.get(name or self._default)
        if client is None:
            raise ProviderError(
                f"No endpoint named {name!r} is configured (model {ref!r}).", kind="not_found"
            )
        if not model:
            raise ProviderError(f"The model reference {ref!r} names no model.", kind="not_found")
        return client, model

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        client, model = self.route(request.model)
        events = client.stream(request.model_copy(update={"model": model}))
        try:
            async for event in events:
                yield event
        finally:
            # Closing this stream must close the routed one, and with it the HTTP response.
            await _aclose(events)

    async def complete(self, request: ChatRequest) -> tuple[str, Usage]:
        """The whole answer and its usage; see complete_text."""
        return await complete_text(self, request)
