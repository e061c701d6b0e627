"""Telling the pages open on a conversation that a run was added to it, wherever it was sent from."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from chat.runs import protocol
from chat.runs.services import Services

logger = logging.getLogger(__name__)

# The announcements on their way: a task nobody holds may be collected before it ran.
_sending: set[asyncio.Task[None]] = set()


async def _send(services: Services, conversation_id: int, turn_id: int, run_id: int) -> None:
    layer = services.channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(
            protocol.conversation_group(conversation_id), protocol.run_added_message(turn_id, run_id)
        )
    except Exception:
        # The run goes on without it: other tabs show the turn on their next load.
        logger.exception("Could not announce run %s to its conversation's pages", run_id)


def announce(services: Services, conversation_id: int, turn_id: int, run_id: int) -> None:
    """Send the news from the running event loop, without holding up the caller's response."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(_send(services, conversation_id, turn_id, run_id), context=contextvars.Context())
    _sending.add(task)
    task.add_done_callback(_sending.discard)


async def announced() -> None:
    """Wait for the announcements on their way (for tests)."""
    while _sending:
        await asyncio.gather(*list(_sending))
