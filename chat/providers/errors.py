"""The one error a provider call raises, in words for the chat's reader, and what each HTTP status means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from chat.providers.text import safe_text

# What went wrong, for code that must tell the states apart (the UI, the retry loop, tests);
# README.md's "Resilience" section lists each with the message the user reads.
ErrorKind = Literal[
    "config",  # the endpoint's address is not a usable URL
    "connect_timeout",  # the TCP/TLS connection was not made in time
    "connection",  # no connection, or it failed before the response began
    "busy",  # every pooled connection was in use for too long
    "first_token_timeout",  # connected, but no token came in time (keep-alives do not count)
    "stall",  # tokens came, then nothing for too long
    "total_timeout",  # the whole call ran past its limit
    "rate_limited",  # HTTP 429
    "server_error",  # HTTP 5xx, 408, 409
    "auth",  # HTTP 401
    "forbidden",  # HTTP 403
    "credits",  # HTTP 402
    "not_found",  # HTTP 404, or a model reference no endpoint serves
    "context_length",  # the prompt does not fit the model's context window
    "bad_request",  # any other 4xx
    "cut",  # the connection broke after the response began
    "malformed",  # the provider sent something that is not a chat-completions stream
    "inband",  # the provider reported an error inside a 200 stream
    "too_large",  # the provider sent a line, an event or a model list past what FusionRoom reads
    "too_long",  # the answer, its reasoning or a tool call's arguments passed the call's limit
]


# The HTTP status each kind of failure stands for: failed_models[].status_code in the API's
# fusion object and the fusion tool's result, and the status a passed-through failure answers with.
KIND_STATUS = {
    "rate_limited": 429,
    "credits": 402,
    "auth": 401,
    "forbidden": 403,
    "not_found": 404,
    "context_length": 400,
    "bad_request": 400,
    "server_error": 502,
    "first_token_timeout": 504,
    "connect_timeout": 504,
    "total_timeout": 504,
    "stall": 504,
}


class ProviderError(Exception):
    """A call to a model API failed.

    `message` is shown to the user as it is, so it says what happened in plain words (and is
    made safe to store: no NUL, no lone surrogate). `kind` names the failure state (see
    ErrorKind), None where nothing more specific is known. `retryable` is True for faults that
    may pass (connection errors, 408/409/429, 5xx, timeouts) and False for ones that will not
    (a bad key, an unknown model, a malformed request). `retry_after` is the provider's
    Retry-After in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        kind: ErrorKind | None = None,
    ) -> None:
        message = safe_text(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, kind={self.kind!r}, status={self.status}, "
            f"retryable={self.retryable})"
        )


# --- What an HTTP status means ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusMeaning:
    """What an error status tells us: its kind, whether a second try may pass, what the user reads.

    `wording` may use {status}, and {said}: ": " and the provider's own words, or "." when it gave
    none. `model_wording` replaces it when the model asked for is known, and may use {model}.
    `may_be_context` marks the statuses a provider uses for a prompt too long for the model: a
    body that says so turns them into CONTEXT_WINDOW.
    """

    kind: ErrorKind
    retryable: bool
    wording: str
    model_wording: str | None = None
    may_be_context: bool = False

    def message(self, *, status: int, detail: str | None = None, model: str | None = None) -> str:
        """The sentence the user reads, quoting `detail` where the wording has room for it."""
        said = f": {detail}" if detail else "."
        if model is not None and self.model_wording is not None:
            return self.model_wording.format(status=status, said=said, model=repr(model))
        return self.wording.format(status=status, said=said)


_REJECTED = StatusMeaning(
    "bad_request", retryable=False, wording="The provider rejected the request{said}", may_be_context=True
)

# The one status table: every place that classifies an HTTP status (an error response, the
# status OpenRouter quotes in an in-band error) reads it through meaning_of_status.
STATUSES: Mapping[int, StatusMeaning] = {
    400: _REJECTED,
    401: StatusMeaning("auth", retryable=False, wording="The provider rejected the API key."),
    402: StatusMeaning("credits", retryable=False, wording="The provider account is out of credits."),
    403: StatusMeaning("forbidden", retryable=False, wording="The provider refused the request{said}"),
    404: StatusMeaning(
        "not_found",
        retryable=False,
        wording="The provider has nothing at this address{said}",
        model_wording="The provider does not know the model {model}.",
    ),
    408: StatusMeaning(
        "server_error", retryable=True, wording="The provider timed out before it read the request."
    ),
    409: StatusMeaning(
        "server_error", retryable=True, wording="The provider reported a conflict with another request."
    ),
    413: StatusMeaning(
        "bad_request",
        retryable=False,
        wording="The request is too large for the provider.",
        may_be_context=True,
    ),
    422: _REJECTED,
    429: StatusMeaning(
        "rate_limited", retryable=True, wording="The provider is rate-limiting requests{said}"
    ),
}
# Every status from 500 up that the table does not name.
SERVER_ERROR = StatusMeaning(
    "server_error", retryable=True, wording="The provider had a server error (HTTP {status}){said}"
)
# Every other status that is not a success: other 4xx, and 1xx or 3xx where a stream was due.
OTHER_STATUS = StatusMeaning(
    "bad_request", retryable=False, wording="The provider answered HTTP {status}{said}"
)
# A `may_be_context` status whose body says the prompt does not fit the model's context window.
CONTEXT_WINDOW = StatusMeaning(
    "context_length", retryable=False, wording="The conversation is too long for this model's context window."
)

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


def meaning_of_status(status: int, *, body: str = "") -> StatusMeaning:
    """What an error status means; `body`, the response's text, tells a context overflow apart."""
    meaning = STATUSES.get(status) or (SERVER_ERROR if status >= 500 else OTHER_STATUS)
    if meaning.may_be_context and _mentions_context_window(body):
        return CONTEXT_WINDOW
    return meaning


def _mentions_context_window(body: str) -> bool:
    lowered = body.lower()
    return any(words in lowered for words in _CONTEXT_WORDS)
