"""`manage.py fuse "question"`: run a fusion from the terminal and watch it stream.

It goes the way every run goes (chat.runs): the same resilient client, timeouts, retries,
endpoints and web tools as the chatroom; with `--user NAME --save` through the same start gate,
into that user's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import IO, Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from pydantic import ValidationError

from chat import runs
from chat.endpoints.catalog import load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for, server_endpoints
from chat.fusion.events import Event
from chat.fusion.options import RunOptions
from chat.fusion.request import MAX_SEATS, MIN_SEATS
from chat.models import Panel
from chat.providers.errors import ProviderError
from chat.providers.types import Endpoint
from chat.runs.services import current
from chat.terminal import TerminalView

# The flags that set one field of each seat's settings (chat.fusion.options.SeatOptions), a value
# per seat: the field, how a value is read, and what the help calls it.
SEAT_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "--seat-temperature": ("temperature", float, "temperature"),
    "--seat-effort": ("reasoning_effort", str, "reasoning effort (minimal, low, medium, high)"),
    "--seat-max-tokens": ("max_tokens", int, "most tokens"),
    "--seat-seed": ("seed", int, "seed"),
}
# The flag of each judging term, to name it when its value is refused.
TERM_FLAGS = {
    "quorum": "--quorum",
    "deadline_s": "--deadline",
    "late_seats": "--late-seats",
    "judge_instructions": "--judge-instructions",
    "writer_instructions": "--writer-instructions",
    "system_prompt": "--system-prompt",
    "compare_only": "--compare-only",
}


def per_seat(convert: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    """An argparse type for "0.2,,1.1": a value per seat, None where blank (the seat as is)."""

    def read(text: str) -> list[Any]:
        return [convert(part.strip()) if part.strip() else None for part in text.split(",")]

    read.__name__ = getattr(convert, "__name__", "value")  # what argparse names in its error
    return read


def judging_terms(panel: RunOptions, options: dict[str, Any], *, seats: int) -> RunOptions:
    """The panel's judging terms with the flags given over them; CommandError naming the flag
    for a value out of bounds (RunOptions holds the bounds)."""
    fields = panel.model_dump()
    flags = {
        "quorum": options["quorum"],
        "deadline_s": options["deadline"],
        "late_seats": options["late_seats"],
        "judge_instructions": options["judge_instructions"],
        "writer_instructions": options["writer_instructions"],
        "system_prompt": options["system_prompt"],
        "compare_only": options["compare_only"] or None,
    }
    fields.update({name: value for name, value in flags.items() if value is not None})
    per_seat_given = {flag: options[_dest(flag)] for flag in SEAT_FLAGS if options[_dest(flag)] is not None}
    for flag, values in per_seat_given.items():
        if len(values) > seats:
            raise CommandError(f"{flag}: {len(values)} values for a panel of {seats} seats.")
        field = SEAT_FLAGS[flag][0]
        while len(fields["seats"]) < len(values):
            fields["seats"].append({})
        for seat, value in enumerate(values):
            if value is not None:
                fields["seats"][seat][field] = value
    try:
        terms = RunOptions.model_validate(fields)
    except ValidationError as error:
        problem = error.errors()[0]
        where = problem["loc"]
        if where[0] == "seats" and len(where) > 2:
            flag = next(f for f, (field, _, _) in SEAT_FLAGS.items() if field == where[2])
            flag = f"{flag} (seat {int(where[1]) + 1})"
        else:
            flag = TERM_FLAGS.get(str(where[0]), str(where[0]))
        raise CommandError(f"{flag}: {problem['msg']}") from None
    if terms.quorum is not None and terms.quorum > seats:
        raise CommandError(
            f"--quorum: the panel has {seats} seats; a quorum of {terms.quorum} is never reached."
        )
    return terms


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


class Command(BaseCommand):
    help = "Ask a panel of models one question and print the judge's analysis and the fused answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--preset", default=None, help="quality or budget (default: budget)")
        parser.add_argument("--panel", default=None, help="a saved panel of --user, by name")
        parser.add_argument("--seat", action="append", default=[], help="a panel model; repeat for each seat")
        parser.add_argument("--judge", default=None, help="the judge model (default: the panel's judge)")
        parser.add_argument("--writer", default=None, help="the model that writes the fused answer")
        parser.add_argument("--web", action="store_true", help="let the seats search and read the web")
        parser.add_argument(
            "--auto-fuse",
            action="store_true",
            help="the writer answers, and consults the panel only if the question is worth it",
        )
        parser.add_argument("--user", default=None, help="run as this user: their keys, endpoints, panels")
        parser.add_argument("--save", action="store_true", help="save the run to --user's history")
        parser.add_argument("--max-tokens", type=int, default=None, help="most tokens per answer")
        terms = parser.add_argument_group("judging terms (over the panel's own)")
        terms.add_argument(
            "--quorum", type=int, default=None, help="judge when this many seats have answered"
        )
        terms.add_argument(
            "--deadline", type=float, default=None, help="judge at this many seconds with what has answered"
        )
        terms.add_argument(
            "--late-seats",
            choices=["keep", "stop"],
            default=None,
            help="seats still running then: go on or stop",
        )
        terms.add_argument("--judge-instructions", default=None, help="what the judge should scrutinise")
        terms.add_argument("--writer-instructions", default=None, help="how the writer should write")
        terms.add_argument("--system-prompt", default=None, help="the seats' system prompt")
        terms.add_argument(
            "--compare-only", action="store_true", help="the seats' answers side by side: no judge, no writer"
        )
        for flag, (_, convert, what) in SEAT_FLAGS.items():
            terms.add_argument(
                flag,
                type=per_seat(convert),
                default=None,
                help=f"each seat's {what}, by seat: 0.2,1.1 (blank: as is)",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        # Read where every run reads it; put back after, for a caller that goes on (call_command).
        configured_max_tokens = settings.FUSIONROOM_MAX_TOKENS
        if options["max_tokens"] is not None:
            settings.FUSIONROOM_MAX_TOKENS = options["max_tokens"]
        try:
            self._ready_database()
            user = self._user(options["user"])
            if options["save"] and user is None:
                raise CommandError("--save needs --user NAME: a saved run belongs to someone.")
            panel = self._panel(options, user)
            endpoints = endpoints_for(user) if user is not None else server_endpoints()
            asyncio.run(self._fuse(options["question"], panel, endpoints, user if options["save"] else None))
        except ProviderError as error:
            raise CommandError(error.message) from None
        except KeyUnavailable as error:
            raise CommandError(error.user_message) from None
        except DatabaseError as error:
            raise CommandError(f"The database could not be used ({error}); is it migrated?") from None
        finally:
            settings.FUSIONROOM_MAX_TOKENS = configured_max_tokens

    def _ready_database(self) -> None:
        """The embedded database is migrated here (a fresh clone has none); another is the
        operator's to migrate, so the command only says what to run."""
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as error:
            raise CommandError(f"The database does not answer ({error}).") from None
        if not pending:
            return
        if connection.vendor != "sqlite":
            raise CommandError("The database is not migrated: run `python manage.py migrate` first.")
        call_command("migrate", verbosity=0, interactive=False)

    @staticmethod
    def _user(name: str | None) -> User | None:
        if name is None:
            return None
        user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user called {name!r}.")
        return user

    def _panel(self, options: dict[str, Any], user: User | None) -> Panel:
        """The panel asked for: a saved one, a preset, or seats given here; unsaved, so that
        --judge, --writer and --web change only this run."""
        seats: list[str] = options["seat"]
        if options["panel"]:
            panel = self._saved_panel(options["panel"], user)
        elif options["preset"] or not seats:
            panel = self._preset(options["preset"] or "budget")
        else:
            if not options["judge"]:
                raise CommandError("Give --judge with --seat: the model that compares the answers.")
            panel = Panel(name="Terminal", judge=options["judge"])
        kept = ("seats", "judge", "writer", "name", "auto_fuse", "options")
        fields = {name: getattr(panel, name) for name in kept}
        fields.update(panel.web_tools.fields())
        panel = Panel(**fields)
        panel.seats = seats or list(panel.seats)
        panel.judge = options["judge"] or panel.judge
        panel.writer = options["writer"] or panel.writer
        panel.web_search = panel.web_search or options["web"]
        panel.auto_fuse = panel.auto_fuse or options["auto_fuse"]
        if not MIN_SEATS <= len(panel.seats) <= MAX_SEATS:
            raise CommandError(f"A panel has {MIN_SEATS} to {MAX_SEATS} seats; you gave {len(panel.seats)}.")
        panel.options = judging_terms(panel.run_options, options, seats=len(panel.seats)).stored()
        return panel

    @staticmethod
    def _saved_panel(name: str, user: User | None) -> Panel:
        if user is None:
            raise CommandError("--panel needs --user NAME: saved panels belong to their user.")
        mine = Panel.objects.filter(owner=user)
        found = mine.filter(name__iexact=name).first() or mine.filter(slug__iexact=name).first()
        if found is None:
            names = ", ".join(panel.name for panel in mine) or "none yet"
            raise CommandError(f"{user.username} has no panel called {name!r}; their panels: {names}")
        return found

    @staticmethod
    def _preset(name: str) -> Panel:
        presets = Panel.objects.filter(is_preset=True)
        found = presets.filter(slug__iexact=name).first() or presets.filter(name__iexact=name).first()
        if found is None:
            names = ", ".join(panel.slug or panel.name for panel in presets) or "none (run migrate)"
            raise CommandError(f"No preset called {name!r}; the presets are: {names}")
        return found

    async def _fuse(
        self, question: str, panel: Panel, endpoints: list[Endpoint], saving: User | None
    ) -> None:
        catalog = await load_catalog(endpoints)
        unknown = sorted({*panel.seats, panel.judge, panel.writer or panel.judge} - set(catalog.infos()))
        if unknown and not catalog.down:
            names = ", ".join(endpoint.name for endpoint in endpoints)
            raise CommandError(f"{names} offers no model called {', '.join(unknown)}.")
        # rich writes whole lines itself; Django's wrapper would add a newline to every write.
        self.stdout.ending = ""
        view = TerminalView(cast(IO[str], self.stdout), simulated=any(e.simulated for e in endpoints))
        with view:
            async for event in self._events(question, panel, endpoints, saving):
                view.show(event)
        if saving is not None:
            self.stdout.write(f"Saved to {saving.username}'s history.\n")

    async def _events(
        self, question: str, panel: Panel, endpoints: list[Endpoint], saving: User | None
    ) -> AsyncIterator[Event]:
        if saving is None:
            async for event in runs.unsaved([{"role": "user", "content": question}], panel, endpoints):
                yield event
            return
        # Executed in this process (its events are read here), and saved as it goes.
        try:
            run = await runs.start(
                saving, runs.Ask(None, question, panel), services=current().replace(here=True)
            )
        except runs.LimitReached as refused:
            raise CommandError(refused.message) from None
        try:
            async for event in runs.events(run.pk):
                yield event
        finally:
            await runs.wait(run.pk)  # its end is saved before the command exits
