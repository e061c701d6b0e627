"""What a server process does once, before it serves anyone: recover runs a dead process left."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError

from chat.runs.recovery import ensure_sweeper, mark_interrupted_at_startup

logger = logging.getLogger(__name__)


class RecoverRunsOnStart:
    """ASGI wrapper: before the first connection is served, runs left "running" by a process
    that died are marked interrupted, and the periodic sweep starts.

    Daphne has no start-up hook (no ASGI lifespan); the first connection is the earliest moment
    this process runs in its event loop, and the page that connection asks for is then right.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._recovered: asyncio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if settings.FUSIONROOM_RECOVER_RUNS and scope["type"] in ("http", "websocket"):
            await self._recover_once()
        return await self.app(scope, receive, send)

    async def _recover_once(self) -> None:
        if self._recovered is not None:
            await self._recovered.wait()
            return
        self._recovered = asyncio.Event()
        try:
            await sync_to_async(mark_interrupted_at_startup)()
        except DatabaseError:
            logger.exception("Could not recover interrupted runs (is the database migrated?)")
        finally:
            self._recovered.set()
        ensure_sweeper()
