"""The websockets: a run's (authenticate, subscribe to its group, forward its frames), and a
conversation's (tell its open page when a run was added to it elsewhere)."""

from __future__ import annotations

import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import reverse

from chat.models import Conversation, Run
from chat.runs import protocol
from chat.runs.protocol import (
    CLOSE_NOT_FOUND,
    CLOSE_SIGNED_OUT,
    CLOSE_UNAUTHENTICATED,
    MAX_CLIENT_MESSAGE_BYTES,
    error_frame,
)

SYNC_REFUSED = "A snapshot is already on its way; ask again in a moment."


@database_sync_to_async
def run_status(run_id: int, user: Any) -> str | None:
    """The run's status if `user` may watch it (theirs), else None: another's looks missing."""
    run = Run.objects.for_user(user).filter(pk=run_id).only("status").first()
    return run.status if run else None


@database_sync_to_async
def owns_conversation(conversation_id: int, user: Any) -> bool:
    return Conversation.objects.for_user(user).filter(pk=conversation_id).exists()


async def join_account_groups(consumer: AsyncWebsocketConsumer, user: Any) -> tuple[str, ...]:
    """Put the socket in its user's and session's groups, told to close when either ends (chat/signals.py)."""
    session_key = getattr(consumer.scope.get("session"), "session_key", None)
    groups = [protocol.user_group(user.pk)]
    groups += [protocol.session_group(session_key)] if session_key else []
    for group in groups:
        await consumer.channel_layer.group_add(group, consumer.channel_name)
    return tuple(groups)


class RunConsumer(AsyncWebsocketConsumer):
    run_id: int
    group: str
    # Until the run's own snapshot arrives, frames could not be lined up with the page: drop them.
    synced = False
    # The number of the last run message shown (chat.runs numbers them), to notice a lost one.
    last_seq: int | None = None
    # The session's and the user's groups, told to close when either ends (chat/signals.py).
    account_groups: tuple[str, ...] = ()
    # How the socket learns a run's status and whether its user may watch it (a seam for tests).
    run_status = staticmethod(run_status)
    # A snapshot is the whole run, rendered and sent: a client may ask for one at most every
    # SYNC_INTERVAL seconds, and not while the last one it asked for is on its way (unless that
    # was SYNC_PATIENCE seconds ago: a run that ended answers no more).
    SYNC_INTERVAL = 1.0
    SYNC_PATIENCE = 10.0
    # When the client last asked for a snapshot, and whether it has arrived since.
    client_sync_at: float | None = None
    client_sync_pending = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before handling any message, a trip to the
        # database thread. The run's frames and snapshots only forward HTML: for them it would be
        # one trip per frame per viewer, a tenth of the server's CPU while tokens stream.
        if message["type"] == protocol.FRAME:
            await self.run_frame(message)
        elif message["type"] == protocol.SNAPSHOT:
            await self.run_snapshot(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        status = await self.run_status(self.run_id, user)
        if status is None:  # someone else's run looks exactly like a missing one
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = protocol.run_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._join_account_groups(user)
        await self.accept()
        if status == Run.Status.RUNNING:
            # Once more, now that this socket is in the group: a run saves its end before it
            # announces it, so one that ended since the first look is seen ended here.
            status = await self.run_status(self.run_id, user)
        if status == Run.Status.RUNNING:
            await self._ask_for_snapshot()
        else:
            await self.send(text_data=self._reload_frame())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        for group in self.account_groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _join_account_groups(self, user: Any) -> None:
        self.account_groups = await join_account_groups(self, user)

    async def user_signed_out(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_SIGNED_OUT)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None or text_data is None:
            await self.send(text_data=error_frame("This socket only takes JSON text messages."))
            return
        if len(text_data.encode()) > MAX_CLIENT_MESSAGE_BYTES:
            await self.send(text_data=error_frame("That message is too large."))
            return
        try:
            message = json.loads(text_data)
        except json.JSONDecodeError:
            await self.send(text_data=error_frame("That message is not valid JSON."))
            return
        action = message.get("action") if isinstance(message, dict) else None
        if action == "sync":
            if not self._may_sync(time.monotonic()):
                await self.send(text_data=error_frame(SYNC_REFUSED))
                return
            self.synced = False
            await self._ask_for_snapshot()
        elif action == "ping":
            await self.send(text_data=protocol.clear_error_frame())
        else:
            await self.send(text_data=error_frame(f"Unknown action {str(action)[:40]!r}."))

    def _may_sync(self, now: float) -> bool:
        """Whether a client's sync may ask for a snapshot now; if so, it counts as asked."""
        last = self.client_sync_at
        if last is not None:
            if now - last < self.SYNC_INTERVAL:
                return False
            if self.client_sync_pending and now - last < self.SYNC_PATIENCE:
                return False
        self.client_sync_at, self.client_sync_pending = now, True
        return True

    async def _ask_for_snapshot(self) -> None:
        await self.channel_layer.group_send(
            protocol.control_group(self.run_id), protocol.sync_message(self.channel_name)
        )

    def _reload_frame(self) -> str:
        return protocol.reload_frame(self.run_id, reverse("run", args=[self.run_id]))

    async def run_frame(self, message: dict[str, Any]) -> None:
        if not self.synced:
            return
        seq = message.get("seq")
        verdict = protocol.judge_seq(seq, self.last_seq)
        if verdict == "drop":
            return
        if verdict == "resync":
            self.synced = False
            await self._ask_for_snapshot()
            return
        self.last_seq = seq
        await self.send(text_data=message["html"])

    async def run_snapshot(self, message: dict[str, Any]) -> None:
        self.synced = True
        self.client_sync_pending = False
        self.last_seq = message.get("seq")
        await self.send(text_data=message["html"])


class ConversationConsumer(AsyncWebsocketConsumer):
    """A page open on a conversation: when a run is added to it (another tab, the terminal),
    the page is told which, and fetches its turn itself (static/chat/tools.js)."""

    group = ""
    account_groups: tuple[str, ...] = ()
    owns = staticmethod(owns_conversation)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        if not await self.owns(conversation_id, user):  # another's looks exactly like a missing one
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.group = protocol.conversation_group(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.account_groups = await join_account_groups(self, user)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in (self.group, *self.account_groups):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        pass  # the page has nothing to say here

    async def conversation_run_added(self, message: dict[str, Any]) -> None:
        turn_id, run_id = int(message["turn_id"]), int(message["run_id"])
        url = reverse("turn", args=[turn_id])
        await self.send(text_data=protocol.run_added_frame(turn_id, run_id, url))

    async def user_signed_out(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_SIGNED_OUT)
