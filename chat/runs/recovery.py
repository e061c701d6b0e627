"""Runs whose process is gone: marked interrupted at start-up and by a periodic sweep, and shown.

A running run's process touches it every FUSIONROOM_HEARTBEAT_SECONDS; one silent for
FUSIONROOM_HEARTBEAT_STALE_SECONDS was left behind by a process that died.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from chat.models import Run
from chat.runs import protocol
from chat.runs.frames import Frames
from chat.runs.services import current
from chat.runs.state import RunState

logger = logging.getLogger(__name__)

INTERRUPTED_NOTE = (
    "The server stopped while this run was going. What arrived before is kept; "
    "nothing was re-run or billed again. Retry or re-run it when you like."
)


def stale_after() -> timedelta:
    return timedelta(seconds=settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS)


def mark_interrupted(*, stale_after: timedelta | None) -> int:
    """Mark running runs whose process is gone as interrupted; returns how many.

    With `stale_after=None` every running run is taken as orphaned: right for a single process
    that is starting, since no other process can be executing its runs.
    """
    return len(_interrupt_orphans(stale_after=stale_after))


def _interrupt_orphans(*, stale_after: timedelta | None) -> list[int]:
    orphans = Run.objects.active()
    if stale_after is not None:
        cutoff = timezone.now() - stale_after
        orphans = orphans.filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        )
    ids = interrupt(list(orphans.values_list("pk", flat=True)))
    if ids:
        logger.warning("Marked %d run(s) interrupted: their process is gone.", len(ids))
    return ids


def interrupt(ids: list[int]) -> list[int]:
    if not ids:
        return []
    return Run.objects.filter(pk__in=ids).end(Run.Status.INTERRUPTED, note=INTERRUPTED_NOTE, began=True)


def mark_interrupted_at_startup() -> int:
    """On start-up: with one process (no Redis) every running run is orphaned; with several,
    only those whose heartbeat stopped (another process may be running the rest)."""
    return mark_interrupted(stale_after=stale_after() if settings.REDIS_URL else None)


_sweeper: asyncio.Task[None] | None = None


async def sweep_once() -> list[int]:
    """Mark the runs whose heartbeat stopped as interrupted, and show it to their viewers."""
    ids = await sync_to_async(_interrupt_orphans)(stale_after=stale_after())
    await announce_saved(ids)
    return ids


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(settings.FUSIONROOM_SWEEP_SECONDS)
        try:
            await sweep_once()
        except Exception:  # a sweep that fails now may work next time; the server goes on
            logger.exception("The interrupted-run sweep failed")


def ensure_sweeper() -> None:
    global _sweeper
    if _sweeper is None or _sweeper.done():
        _sweeper = asyncio.get_running_loop().create_task(_sweep_forever(), context=contextvars.Context())


def _saved_frame(run_id: int) -> str | None:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None
    return Frames(RunState(run, list(run.answers.order_by("index")))).run_frame()


async def announce_saved(run_ids: list[int]) -> None:
    """Send the viewers of runs that ended without their process (interrupted, stopped or failed
    before they began) the saved state, as the run's final snapshot."""
    layer = current().channel_layer()
    if layer is None:
        return
    for run_id in run_ids:
        try:
            html = await sync_to_async(_saved_frame)(run_id)
            if html is not None:
                await layer.group_send(
                    protocol.run_group(run_id), protocol.snapshot_message(html, final=True)
                )
        except Exception:  # the run is saved; a viewer sees it on its next load
            logger.exception("Could not show run %s's viewers that it ended", run_id)
