"""Every request the simulator received, with its timings, and a way to wait for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from chat.simulator.config import Fault

Outcome = Literal[
    "completed",  # the whole answer went out (with [DONE] when streamed)
    "rejected",  # an HTTP error status, before any token
    "cut",  # the body ended, or the socket was reset, before the answer was complete
    "malformed",  # an event that is not JSON went out
    "inband_error",  # an error event went out inside a 200 stream
    "disconnected",  # the client went away first
    "shutdown",  # the simulator stopped while the request was open (hang, stall, hold...)
]


@dataclass
class RequestRecord:
    """One POST /chat/completions; times are time.monotonic() seconds."""

    index: int
    model: str
    body: dict[str, Any]
    stream: bool
    received_at: float
    status: int | None = None
    fault: Fault | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    outcome: Outcome | None = None
    completion_tokens: int = 0
    # Bytes of a flood fault's body (huge_error, giant_line, endless_*) handed to the socket.
    bytes_sent: int = 0
    # The panel seat it answered for (chat.providers.types.SEAT_HEADER), when it said.
    seat: int | None = None
    # The request's headers (names lower-cased) but its credentials, for tests of what a caller
    # sends (the depth header).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.received_at

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.received_at


Predicate = Callable[[list[RequestRecord]], bool]


class RequestLog:
    """Records requests and wakes waiters on every change; lives in the server's event loop."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._changed = asyncio.Event()

    @property
    def records(self) -> list[RequestRecord]:
        return list(self._records)

    def open(self, model: str, body: dict[str, Any], *, stream: bool) -> RequestRecord:
        record = RequestRecord(len(self._records), model, body, stream, received_at=time.monotonic())
        self._records.append(record)
        self._notify()
        return record

    def changed(self) -> None:
        """Wake the waiters: a record changed in a way they may be waiting for."""
        self._notify()

    def first_token(self, record: RequestRecord) -> None:
        if record.first_token_at is None:
            record.first_token_at = time.monotonic()
            self._notify()

    def finish(self, record: RequestRecord, outcome: Outcome, *, status: int | None = None) -> None:
        if record.finished_at is not None:
            return
        record.finished_at = time.monotonic()
        record.outcome = outcome
        if status is not None:
            record.status = status
        self._notify()

    async def wait_until(self, predicate: Predicate, *, timeout: float | None = None) -> list[RequestRecord]:
        async with asyncio.timeout(timeout):
            while not predicate(self._records):
                await self._changed.wait()
        return self.records

    def _notify(self) -> None:
        # A fresh event per change: waiters re-check their predicate, none misses an update.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
