"""How long a model call may take at each stage, and how failed calls are retried."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import BaseModel, ConfigDict, Field


class Timeouts(BaseModel):
    """Seconds allowed for each stage of one call; every limit is its own failure state.

    `connect`: to open the connection (httpx's connect timeout). `first_token`: from the start
    of the call to its first content, reasoning or tool-call delta; keep-alive comments do not
    count, and reasoning models may think for a long while. `stall`: between two deltas once the
    first has come. `total`: the whole call, retries and their waits included.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    first_token: float = Field(default=90.0, gt=0, allow_inf_nan=False)
    stall: float = Field(default=45.0, gt=0, allow_inf_nan=False)
    total: float = Field(default=600.0, gt=0, allow_inf_nan=False)

    def http_timeout(self) -> httpx.Timeout:
        """The per-request httpx timeouts that go with these limits.

        No read timeout: ResilientClient's first-token and stall limits are the limits on reading,
        kept by one timer a call. A read timeout below them would name the wrong state, and one
        above them only costs: aiohttp moves its timer at every chunk, that is at every token.
        """
        return httpx.Timeout(connect=self.connect, read=None, write=30.0, pool=10.0)


class RetryPolicy(BaseModel):
    """When and how long to wait before trying a failed call again.

    `attempts` counts every request, the first included. Waits follow exponential backoff with
    full jitter (a random share of `base_delay * 2**(n-1)`, capped at `max_delay`), except after
    a response that said Retry-After: that wait is honoured, capped at `retry_after_cap`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=10)
    base_delay: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    max_delay: float = Field(default=8.0, ge=0, allow_inf_nan=False)
    retry_after_cap: float = Field(default=30.0, ge=0, allow_inf_nan=False)

    def delay(self, failures: int, *, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait after the `failures`-th failed attempt (1 after the first).

        `rand` returns a float in [0, 1), like random.random.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (max(failures, 1) - 1))
        return rand() * ceiling
