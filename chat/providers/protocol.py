"""The contract the fusion pipeline relies on to reach a model; nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from chat.providers.types import ChatRequest, StreamEvent


class ModelClient(Protocol):
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield the call's deltas, usage, and a final StreamEnd.

        Raises ProviderError when the call fails before or during the stream; text already
        yielded stays valid, and the caller decides what to keep.
        """
        ...
