"""The ProviderError for a failed HTTP request: an error response, or a failure below HTTP."""

from __future__ import annotations

import email.utils
import logging
import math
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from chat.providers.errors import ErrorKind, ProviderError, meaning_of_status
from chat.providers.limits import MAX_ERROR_BODY_BYTES, read_at_most
from chat.providers.types import Endpoint

logger = logging.getLogger(__name__)

# Longest provider detail quoted to the user; some gateways send whole HTML pages.
_MAX_DETAIL = 300
# A user's own endpoint could be anything that speaks HTTP: its words are quoted shorter, and
# only from an error object (JSON), never a plain-text body, so a page cannot be read through them.
_MAX_USER_DETAIL = 120


class RefusedAddress(httpcore.ConnectError):
    """Raised by a network backend that will not connect to an address (a user's endpoint that
    resolves to loopback, a private or a metadata address); `str()` says why, for the user."""


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


async def read_error(
    response: httpx.Response,
    *,
    endpoint: Endpoint,
    model: str | None = None,
    max_body_bytes: int = MAX_ERROR_BODY_BYTES,
) -> ProviderError:
    """The ProviderError for a streamed non-2xx response, reading at most `max_body_bytes` of its
    body: a provider (or anything posing as one) may send an error page of any size, and only
    its first few hundred characters are ever quoted."""
    body, cut = await read_at_most(response, max_body_bytes)
    if cut:
        logger.warning(
            "%s sent an error body over %s bytes; the rest was not read", endpoint.name, max_body_bytes
        )
    return error_from_response(response, endpoint=endpoint, model=model, body=body)


def error_from_response(
    response: httpx.Response, *, endpoint: Endpoint, model: str | None = None, body: bytes | None = None
) -> ProviderError:
    """The ProviderError for a non-2xx response: `body` is what was read of it (read_error's
    bounded read); None means the whole body, already read."""
    status = response.status_code
    content = response.content if body is None else body
    text = _decoded(content, response.charset_encoding)
    meaning = meaning_of_status(status, body=text)
    detail = _error_detail(content, text, user_owned=endpoint.user_owned)
    message = meaning.message(status=status, detail=detail, model=model)
    if endpoint.api_key:
        # Some providers quote the key they refused; it must not reach the page or the logs.
        message = message.replace(endpoint.api_key, "[redacted]")
    # The path and status only: the request's headers hold the key.
    logger.warning("%s answered HTTP %s to %s", endpoint.name, status, response.request.url.path)
    return ProviderError(
        message,
        status=status,
        retryable=meaning.retryable,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        kind=meaning.kind,
    )


def _error_detail(content: bytes, text: str, *, user_owned: bool = False) -> str | None:
    """The provider's own words about the error, shortened, or None when it gave none."""
    limit = _MAX_USER_DETAIL if user_owned else _MAX_DETAIL
    try:
        parsed = _ErrorBody.model_validate_json(content)
    except ValidationError:
        text = text.strip()
        # A short plain-text body is worth showing; an HTML error page is not.
        return _shorten(text, limit) if text and not text.startswith("<") and not user_owned else None
    detail: str | None
    if isinstance(parsed.error, _ErrorObject):
        detail = parsed.error.message
        raw = parsed.error.metadata.raw if parsed.error.metadata else None
        if isinstance(raw, str) and raw.strip():
            # OpenRouter's own message is often just "Provider returned error".
            detail = f"{detail} ({raw})" if detail else raw
    else:
        detail = parsed.error or parsed.message or parsed.detail
    return _shorten(detail.strip(), limit) if detail and detail.strip() else None


def _decoded(content: bytes, charset: str | None) -> str:
    # The declared charset when Python knows it, else UTF-8; never a guess from the content,
    # which needs the whole body.
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    if isinstance(exc.__cause__, RefusedAddress):
        # Not a fault that passes: the address is refused by rule, every time.
        reason = str(exc.__cause__).removeprefix("Refused: ")
        return ProviderError(f"{name} is not called: {reason}", kind="config")
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
