"""What a run takes from outside: the model client, the catalog, the pacing, the channel layer.

Every surface gets the configured ones; tests and the terminal pass their own (`Services(...)`)
or swap the process's defaults for a while (`overridden(...)`), instead of patching names.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from channels.layers import BaseChannelLayer, get_channel_layer

from chat.endpoints.catalog import load_catalog
from chat.endpoints.resolve import client_for
from chat.providers.protocol import ModelClient
from chat.providers.types import Endpoint, ModelInfo
from chat.runs.pacing import Pacing

if TYPE_CHECKING:  # execution imports this module
    from chat.runs.execution import Loaded

logger = logging.getLogger(__name__)


async def catalog_infos(endpoints: list[Endpoint]) -> dict[str, ModelInfo]:
    """The models of the owner's endpoints, for the pipeline's cost figures and windows."""
    catalog = await load_catalog(endpoints)
    for name, reason in catalog.down.items():
        # Prices only refine the cost figures; a run goes on without them.
        logger.warning("Model catalog of %s unavailable: %s", name, reason)
    return catalog.infos()


@dataclass(frozen=True)
class Services:
    # The client a run's calls go through, for its owner's endpoints (with their keys).
    client_for: Callable[[list[Endpoint]], ModelClient] = client_for
    catalog: Callable[[list[Endpoint]], Awaitable[dict[str, ModelInfo]]] = catalog_infos
    pacing: Pacing | None = None  # None: Pacing.configured()
    channel_layer: Callable[[], BaseChannelLayer | None] = get_channel_layer
    # Where a started run goes: chat.runs.dispatch.dispatch (a worker, or this process).
    # None: the default. Tests that only look at what was started record it instead.
    dispatch: Callable[[int, Loaded | None, Services], None] | None = None
    # How a stop is asked for: chat.runs.dispatch.request_stop by default.
    request_stop: Callable[[int], Awaitable[None]] | None = None
    # Execute in this process even where run workers take runs: for a caller that reads the
    # run's events (chat.runs.lifecycle.events), like the terminal.
    here: bool = False

    @property
    def travels(self) -> bool:
        """Whether a run with these services may execute in another process (a run worker):
        not when its caller asked it to stay here (to read its events, or with a client of its own)."""
        return not self.here

    def replace(self, **changes: Any) -> Services:
        """These services with some swapped: `current().replace(pacing=...)`."""
        return replace(self, **changes)

    def paced(self) -> Pacing:
        return self.pacing or Pacing.configured()


_current = Services()


def current() -> Services:
    """The services runs started now get, unless their caller passes its own."""
    return _current


@contextlib.contextmanager
def overridden(**changes: Any) -> Iterator[Services]:
    """Swap some of the process's services while the block runs (for tests)."""
    global _current
    previous = _current
    _current = replace(previous, **changes)
    try:
        yield _current
    finally:
        _current = previous
