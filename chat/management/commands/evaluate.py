"""`manage.py evaluate SUITE --system … --judge MODEL --out DIR`: an evaluation from the terminal.

It is the owner's evaluation like one started on the web (it shows in their web UI), run by
chat.evaluation.runner: every answer a real run through the start gate, every criterion graded
per pass, within the cost cap. DIR/evaluation.json remembers it: the same command with the same
--out resumes it (Ctrl-C stops it cleanly), and DIR gets results.csv, report.json, report.html.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import IO, Any, cast

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar

from chat.endpoints.crypto import KeyUnavailable
from chat.evaluation import report
from chat.evaluation.models import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PASSES,
    DEFAULT_THRESHOLD,
    EvalSuite,
    Evaluation,
)
from chat.evaluation.runner import EvaluationRefused, Progress, create_evaluation, run_evaluation
from chat.evaluation.suites import MAX_SUITE_BYTES, SuiteError, read_suite
from chat.evaluation.systems import BadSystem, parse_system
from chat.management.commands.fuse import Command as FuseCommand

STARTER = Path(__file__).resolve().parents[2] / "evaluation" / "examples" / "starter.jsonl"
STATE_FILE = "evaluation.json"


def money(value: float | None) -> str:
    return "unknown (a model's price is not listed)" if value is None else f"${value:.4f}"


class Command(BaseCommand):
    help = "Evaluate systems (models, presets, panels, self-fusion) on a suite of graded tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("suite", help="a suite file (JSONL or YAML, ours or DRACO's), or 'starter'")
        parser.add_argument(
            "--system",
            action="append",
            default=[],
            help="model:M, preset:NAME, panel:NAME or self:MxK, +web/+noweb; repeat for each",
        )
        parser.add_argument("--judge", default=None, help="the grader model (not one of the systems')")
        parser.add_argument("--passes", type=int, default=DEFAULT_PASSES, help="grading passes per criterion")
        parser.add_argument("--out", required=True, help="the directory of the results; the same one resumes")
        parser.add_argument("--max-cost", type=float, default=None, help="USD: stop cleanly there")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
        parser.add_argument(
            "--threshold", type=float, default=DEFAULT_THRESHOLD, help="a score accepted at or above it"
        )
        parser.add_argument(
            "--user", default=None, help="whose keys, panels and budget (default: the only user)"
        )
        parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
        parser.add_argument(
            "--allow-self-grading", action="store_true", help="let the grader sit in a system (reported)"
        )
        parser.add_argument(
            "--blocked-domain",
            action="append",
            default=[],
            help="kept out of every system's web tools (a rubric's host); repeat for each",
        )
        parser.add_argument("--name", default="", help="the evaluation's name")

    def handle(self, *args: Any, **options: Any) -> None:
        FuseCommand()._ready_database()
        user = self._user(options["user"])
        out = Path(options["out"])
        evaluation = self._resumed(out, user, options) or self._created(user, options)
        out.mkdir(parents=True, exist_ok=True)
        (out / STATE_FILE).write_text(
            json.dumps({"evaluation_id": evaluation.pk, "systems": evaluation.systems}, indent=2) + "\n",
            encoding="utf-8",
        )
        # rich writes whole lines itself; Django's wrapper would add a newline to every write.
        self.stdout.ending = ""
        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        console.print(
            f"Evaluation {evaluation.pk}: {', '.join(evaluation.systems)} on {evaluation.suite.name} "
            f"({evaluation.suite.task_count} tasks), graded by {evaluation.grader} "
            f"× {evaluation.passes} passes."
        )
        console.print(
            f"Estimated cost: {money(evaluation.estimated_cost)}; cap: {money(evaluation.max_cost)}"
        )
        if evaluation.self_graded:
            console.print(f"Self-graded (allowed): {', '.join(evaluation.self_graded)}")
        interrupted = False
        if evaluation.status != Evaluation.Status.DONE:
            try:
                self._run(evaluation, console)
            except KeyboardInterrupt:
                interrupted = True
            except EvaluationRefused as refused:
                raise CommandError(refused.message) from None
            except KeyUnavailable as error:
                raise CommandError(error.user_message) from None
        evaluation.refresh_from_db()
        report.write_outputs(report.build_report(evaluation), out)
        console.print(f"Status: {evaluation.status}. {evaluation.note}".rstrip())
        if interrupted or evaluation.resumable:
            console.print("Run the same command again (the same --out) to resume: nothing done is redone.")
        console.print(f"Wrote {out / 'results.csv'}, {out / 'report.json'} and {out / 'report.html'}.")

    def _run(self, evaluation: Evaluation, console: Console) -> None:
        with Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[cost]}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            answers = bar.add_task("answers", total=None, cost="")
            grades = bar.add_task("grades", total=None, cost="")

            def show(progress: Progress) -> None:
                cost = f"${progress.cost_so_far:.4f}"
                bar.update(answers, completed=progress.answers_done, total=progress.answers_total, cost=cost)
                bar.update(grades, completed=progress.grades_done, total=progress.grades_total, cost="")

            asyncio.run(run_evaluation(evaluation.pk, progress=show))

    @staticmethod
    def _user(name: str | None) -> User:
        if name is not None:
            user = User.objects.filter(username=name).first()
            if user is None:
                raise CommandError(f"No user called {name!r}.")
            return user
        users = list(User.objects.order_by("pk")[:2])
        if len(users) != 1:
            raise CommandError("Say whose evaluation it is with --user NAME (their keys, panels and budget).")
        return users[0]

    @staticmethod
    def _resumed(out: Path, user: User, options: dict[str, Any]) -> Evaluation | None:
        """The evaluation DIR holds, to resume; None for a new DIR."""
        state = out / STATE_FILE
        if not state.exists():
            return None
        try:
            evaluation_id = int(json.loads(state.read_text(encoding="utf-8"))["evaluation_id"])
        except (ValueError, KeyError, TypeError) as error:
            raise CommandError(f"{state} is not an evaluation's ({error}); use another --out.") from None
        evaluation = Evaluation.objects.select_related("suite").filter(pk=evaluation_id, owner=user).first()
        if evaluation is None:
            raise CommandError(f"{state} names no evaluation of {user.username}'s; use another --out.")
        try:
            asked = [parse_system(text).label for text in options["system"]]
        except BadSystem as error:
            raise CommandError(str(error)) from None
        if asked and asked != evaluation.systems:
            raise CommandError(
                f"{out} holds evaluation {evaluation.pk} of {', '.join(evaluation.systems)}; "
                "use another --out for other systems."
            )
        if options["max_cost"] is not None and options["max_cost"] != evaluation.max_cost:
            evaluation.max_cost = options["max_cost"]
            evaluation.save(update_fields=["max_cost"])
        return evaluation

    @staticmethod
    def _created(user: User, options: dict[str, Any]) -> Evaluation:
        if not options["system"]:
            raise CommandError("Name the systems to evaluate: --system model:M --system preset:budget …")
        if not options["judge"]:
            raise CommandError("Name the grader: --judge MODEL.")
        source = str(options["suite"])
        path = STARTER if source == "starter" else Path(source)
        if not path.is_file():
            raise CommandError(f"No suite file {source!r} (a path, or 'starter').")
        if path.stat().st_size > MAX_SUITE_BYTES:
            raise CommandError(f"{source} is larger than {MAX_SUITE_BYTES // (1024 * 1024)} MB.")
        try:
            suite = read_suite(path.read_bytes(), path.name)
        except SuiteError as error:
            raise CommandError(f"{path.name}: {error}") from None
        row = EvalSuite.of(user, path.stem, suite, path.name)
        row.save()
        try:
            return create_evaluation(
                user,
                row,
                options["system"],
                options["judge"],
                passes=options["passes"],
                threshold=options["threshold"],
                max_cost=options["max_cost"],
                concurrency=options["concurrency"],
                seed=options["seed"],
                blocked_domains=options["blocked_domain"],
                allow_self_grading=options["allow_self_grading"],
                name=options["name"],
            )
        except EvaluationRefused as refused:
            row.delete()
            raise CommandError(refused.message) from None
