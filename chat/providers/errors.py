"""The one error a provider call raises, phrased for the person reading the chat."""

from __future__ import annotations


class ProviderError(Exception):
    """A call to a model API failed.

    `message` is shown to the user as it is, so it says what happened in plain words.
    `retryable` is True for faults that may pass (connection errors, 408/409/429, 5xx)
    and False for ones that will not (a bad key, an unknown model, a malformed request).
    `retry_after` is the provider's Retry-After in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"ProviderError({self.message!r}, status={self.status}, retryable={self.retryable})"
