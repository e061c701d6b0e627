"""The one error a provider call raises, phrased for the person reading the chat."""

from __future__ import annotations

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
]


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
