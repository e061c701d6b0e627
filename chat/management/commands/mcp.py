"""`manage.py mcp --user NAME`: the MCP server over stdio, for an agent on this machine.

The agent starts it as a subprocess and speaks MCP on its stdin and stdout; nothing else is
written to stdout (logs go to stderr). Every `fuse` is a run of NAME's, in their history, under
their limits and budget, as if they had asked in the chatroom.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from chat import runs
from chat.mcp.caller import Caller
from chat.mcp.server import build_server
from chat.runs.dispatch import executing_here

# What a command line that cannot serve exits with (argparse's own code for a bad argument).
USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Serve FusionRoom's MCP tools (list_panels, fuse, get_run) over stdio as --user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user", required=True, help="the user whose panels, runs and budget the tools use"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        caller = Caller(user=self._user(options["user"]), token=None, site_url=settings.FUSIONROOM_PUBLIC_URL)
        asyncio.run(self._serve(caller))

    @staticmethod
    def _user(name: str) -> User:
        try:
            user = User.objects.filter(username=name).first()
        except DatabaseError as error:
            raise CommandError(f"The database could not be used ({error}); is it migrated?") from None
        if user is None:
            raise CommandError(f"No user called {name!r}.", returncode=USAGE_ERROR)
        if not user.is_active:
            raise CommandError(
                f"The user {name!r} is inactive: they may not run anything.", returncode=USAGE_ERROR
            )
        return user

    @staticmethod
    async def _serve(caller: Caller) -> None:
        # While it serves, the SDK points file descriptor 1 at stderr and keeps the real stdout
        # for the protocol: a stray print or a child's output cannot corrupt the stream.
        await build_server(caller).run_stdio_async()
        # The client is gone (it may have timed out, to come back with get_run): the runs this
        # process executes still end and save before it exits.
        for run_id in executing_here():
            await runs.wait(run_id)
