"""Running an evaluation: every task asked of every system as a real run of the owner's (through
the start gate), every answer graded per criterion and pass, within a concurrency limit and a
hard cost cap, resumable.

    evaluation = create_evaluation(owner, suite, ["model:M", "self:Mx2"], "G")   # refuses early
    await run_evaluation(evaluation.pk)     # runs or resumes: to the end, the cap or a stop
    launch(evaluation.pk)                   # the same as a task of this process (the web UI)
    await stop_evaluation(evaluation.pk)    # clean: what is done stays, resuming goes on

What is saved is what resuming skips: a DONE or FAILED answer is never asked again, a saved grade
never asked twice; an answer left RUNNING by a process that died is asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypedDict

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from chat import runs
from chat.endpoints.catalog import (
    TYPICAL_FUSED_TOKENS,
    TYPICAL_PROMPT_TOKENS,
    Catalog,
    estimate_run,
    load_catalog,
)
from chat.endpoints.resolve import endpoints_for
from chat.evaluation import grading
from chat.evaluation.models import (
    MAX_CONCURRENCY,
    MAX_PASSES,
    EvalAnswer,
    EvalGrade,
    EvalSuite,
    Evaluation,
)
from chat.evaluation.suites import Criterion, Task
from chat.evaluation.systems import BadSystem, System, parse_system
from chat.fusion_models import panel_slug
from chat.models import ApiCall, Panel, Run
from chat.providers.protocol import ModelClient
from chat.providers.types import Endpoint, ModelInfo
from chat.runs.gate import BudgetExceeded, RunLimitReached, TokenBudgetExceeded, open_grading
from chat.runs.outcome import Outcome, read_early_end
from chat.runs.services import Services, current

logger = logging.getLogger(__name__)

# A grader call as estimated: the system prompt, the question, a typical answer and the
# criterion in; a verdict and a sentence out.
GRADE_PROMPT_TOKENS = TYPICAL_PROMPT_TOKENS + TYPICAL_FUSED_TOKENS + 250
GRADE_COMPLETION_TOKENS = 80
# Waits between starts the gate refused for the user's run limits (too many at once, or a
# minute): enough for a minute's limit to pass, then the evaluation stops, resumable.
LIMIT_RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 15, 15, 15, 15, 15, 15, 15, 15)
MAX_BLOCKED_DOMAINS = 50


async def pause(seconds: float) -> None:
    """A wait for the run limits to pass (tests count them instead)."""
    await asyncio.sleep(seconds)


# Strong references to this process's evaluations (launch): the loop keeps only weak ones.
_tasks: dict[int, asyncio.Task[None]] = {}


class EvaluationRefused(ValueError):
    """An evaluation that may not be created or run; `message` is for its user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SystemProgress(TypedDict):
    system: str
    answers_done: int
    answers_total: int
    cost: float


@dataclass
class Progress:
    """How far an evaluation is: answers (done or failed) and grades saved, and what they cost."""

    answers_done: int
    answers_total: int
    grades_done: int
    grades_total: int
    cost_so_far: float
    per_system: list[SystemProgress] = field(default_factory=list)


# -- the systems as panels -----------------------------------------------------------------


def panel_for(owner: User, system: System, blocked_domains: list[str] | tuple[str, ...] = ()) -> Panel:
    """The unsaved panel one run of `system` is asked with (a saved panel or preset copied, so
    that forcing web tools or adding the blocked domains changes only the runs). Raises
    EvaluationRefused for a preset or panel that does not exist. Sync (database)."""
    match system.kind:
        case "model":
            panel = Panel(name=system.label[:80], seats=[system.target], judge=system.target)
        case "self":
            panel = Panel(name=system.label[:80], seats=[system.target] * system.copies, judge=system.target)
        case "preset":
            presets = Panel.objects.filter(owner__isnull=True, is_preset=True)
            found = (
                presets.filter(slug__iexact=system.target).first()
                or presets.filter(name__iexact=system.target).first()
            )
            if found is None:
                names = ", ".join(p.slug or p.name for p in presets) or "none"
                raise EvaluationRefused(f"There is no preset {system.target!r}; the presets are: {names}.")
            panel = copy.copy(found)
        case "panel":
            mine = list(Panel.objects.filter(owner=owner).order_by("position", "name", "pk"))
            wanted = system.target.casefold()
            chosen = next((p for p in mine if p.name.casefold() == wanted), None) or next(
                (p for p in mine if panel_slug(p) == wanted), None
            )
            if chosen is None:
                names = ", ".join(p.name for p in mine) or "none yet"
                raise EvaluationRefused(f"You have no panel called {system.target!r}; your panels: {names}.")
            panel = copy.copy(chosen)
    if system.web is not None:
        panel.web_search = system.web
    blocked = list(blocked_domains)
    panel.excluded_domains = _merged(panel.excluded_domains, blocked)
    panel.blocked_domains = _merged(panel.blocked_domains, blocked)
    return panel


def _merged(kept: list[str], added: list[str]) -> list[str]:
    return list(dict.fromkeys([*(kept or []), *added]))


def panel_models(panel: Panel) -> set[str]:
    """Every model a run of the panel may call: seats, judge, writer."""
    return {model for model in (*panel.seats, panel.judge, panel.writer_model) if model}


def clean_domains(domains: list[str] | tuple[str, ...]) -> list[str]:
    cleaned = []
    for domain in domains:
        host = domain.strip().lower().removeprefix("https://").removeprefix("http://").split("/")[0]
        if host and host not in cleaned:
            cleaned.append(host)
    if len(cleaned) > MAX_BLOCKED_DOMAINS:
        raise EvaluationRefused(f"At most {MAX_BLOCKED_DOMAINS} blocked domains.")
    return cleaned


# -- creating ------------------------------------------------------------------------------


def create_evaluation(
    owner: User,
    suite: EvalSuite,
    systems: list[str],
    grader: str,
    *,
    passes: int = 3,
    threshold: float = 70.0,
    max_cost: float | None = None,
    concurrency: int = 4,
    seed: int = 0,
    blocked_domains: list[str] | tuple[str, ...] = (),
    allow_self_grading: bool = False,
    name: str = "",
    catalog: Catalog | None = None,
) -> Evaluation:
    """Check the terms and save the evaluation (pending) with its estimate; raise
    EvaluationRefused with a message for its user. Sync (database, and the catalog fetched
    when none is given)."""
    if suite.owner_id != owner.pk:
        raise EvaluationRefused("There is no such suite.")
    if not systems:
        raise EvaluationRefused("Name at least one system to evaluate.")
    try:
        parsed = [parse_system(text) for text in systems]
    except BadSystem as error:
        raise EvaluationRefused(str(error)) from None
    labels = list(dict.fromkeys(system.label for system in parsed))
    if len(labels) != len(parsed):
        raise EvaluationRefused("A system is named twice.")
    grader = grader.strip()
    if not grader:
        raise EvaluationRefused("Name the grader model.")
    if not 1 <= passes <= MAX_PASSES:
        raise EvaluationRefused(f"Passes are 1 to {MAX_PASSES}.")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise EvaluationRefused(f"Concurrency is 1 to {MAX_CONCURRENCY}.")
    if not 0 <= threshold <= 100:
        raise EvaluationRefused("The threshold is a score from 0 to 100.")
    if max_cost is not None and max_cost <= 0:
        raise EvaluationRefused("The cost cap is a positive amount of dollars.")
    domains = clean_domains(blocked_domains)
    panels = {system.label: panel_for(owner, system, domains) for system in parsed}
    if catalog is None:
        catalog = async_to_sync(load_catalog)(endpoints_for(owner))
    if not catalog.down:
        unknown = sorted(
            {*(m for p in panels.values() for m in panel_models(p)), grader} - set(catalog.infos())
        )
        if unknown:
            raise EvaluationRefused(f"Your endpoints offer no model called {', '.join(unknown)}.")
    self_graded = [label for label, panel in panels.items() if grader in panel_models(panel)]
    if self_graded and not allow_self_grading:
        raise EvaluationRefused(
            f"The grader {grader} grades its own team: it sits in {', '.join(self_graded)} "
            "(as seat, judge or writer). Pick another grader, or allow self-grading (the report says so)."
        )
    evaluation = Evaluation(
        owner=owner,
        suite=suite,
        name=name[:120],
        systems=labels,
        grader=grader,
        passes=passes,
        threshold=threshold,
        max_cost=max_cost,
        concurrency=concurrency,
        seed=seed,
        blocked_domains=domains,
        allow_self_grading=allow_self_grading,
        self_graded=self_graded,
    )
    evaluation.estimated_cost = estimate_cost(suite, panels, grader, passes, catalog)
    evaluation.save()
    return evaluation


def answer_estimate(panel: Panel, catalog: Catalog) -> float | None:
    """A run of the panel at typical lengths (a lone seat calls no judge); None when unpriced."""
    alone = len(panel.seats) == 1 or panel.compare_only
    return estimate_run(
        list(panel.seats),
        panel.judge,
        panel.writer_model,
        catalog,
        auto_fuse=panel.auto_fuse and not alone,
        compare_only=alone,
    ).cost


def grade_estimate(grader: str, catalog: Catalog, prompt_tokens: int = GRADE_PROMPT_TOKENS) -> float | None:
    entry = catalog.get(grader)
    if entry is None or entry.info.prompt_price is None or entry.info.completion_price is None:
        return None
    return prompt_tokens * entry.info.prompt_price + GRADE_COMPLETION_TOKENS * entry.info.completion_price


def estimate_cost(
    suite: EvalSuite, panels: dict[str, Panel], grader: str, passes: int, catalog: Catalog
) -> float | None:
    """Every answer and every grader call at typical lengths; None when a price is unknown."""
    tasks = suite.task_count
    answers = [answer_estimate(panel, catalog) for panel in panels.values()]
    grade = grade_estimate(grader, catalog)
    if grade is None or any(cost is None for cost in answers):
        return None
    return sum(cost or 0.0 for cost in answers) * tasks + grade * suite.criteria_count * passes * len(panels)


# -- reading progress ----------------------------------------------------------------------


def stale_after() -> timedelta:
    return timedelta(seconds=settings.FUSIONROOM_HEARTBEAT_STALE_SECONDS)


INTERRUPTED_NOTE = "The process running this evaluation stopped. Resume it to go on: nothing done is redone."


def interrupt_if_stale(evaluation: Evaluation) -> bool:
    """Mark a running evaluation whose process went silent as interrupted (it can be resumed);
    True when it did. Sync (database)."""
    if evaluation.status != Evaluation.Status.RUNNING or evaluation.pk in _tasks:
        return False
    beat = evaluation.heartbeat_at or evaluation.started_at
    if beat is not None and timezone.now() - beat < stale_after():
        return False
    changed = Evaluation.objects.filter(pk=evaluation.pk, status=Evaluation.Status.RUNNING).update(
        status=Evaluation.Status.INTERRUPTED, note=INTERRUPTED_NOTE
    )
    if changed:
        evaluation.status, evaluation.note = Evaluation.Status.INTERRUPTED, INTERRUPTED_NOTE
    return bool(changed)


def progress_of(evaluation: Evaluation) -> Progress:
    """How far the evaluation is, read from its rows (a stale running one is marked interrupted
    first). Sync (database)."""
    interrupt_if_stale(evaluation)
    suite = evaluation.suite.suite
    criteria = {task.id: len(task.criteria) for task in suite.tasks}
    answers = list(
        EvalAnswer.objects.filter(evaluation=evaluation).values("pk", "system", "task_id", "status", "cost")
    )
    grade_rows = list(EvalGrade.objects.filter(answer__evaluation=evaluation).values("answer_id", "cost"))
    grade_cost: dict[int, float] = {}
    for row in grade_rows:
        grade_cost[row["answer_id"]] = grade_cost.get(row["answer_id"], 0.0) + (row["cost"] or 0.0)
    finished = (EvalAnswer.Status.DONE, EvalAnswer.Status.FAILED)
    per_system: list[SystemProgress] = []
    for system in evaluation.systems:
        mine = [a for a in answers if a["system"] == system]
        per_system.append(
            SystemProgress(
                system=system,
                answers_done=sum(1 for a in mine if a["status"] in finished),
                answers_total=len(suite.tasks),
                cost=sum((a["cost"] or 0.0) + grade_cost.get(a["pk"], 0.0) for a in mine),
            )
        )
    failed = sum(criteria.get(a["task_id"], 0) for a in answers if a["status"] == EvalAnswer.Status.FAILED)
    return Progress(
        answers_done=sum(row["answers_done"] for row in per_system),
        answers_total=len(evaluation.systems) * len(suite.tasks),
        grades_done=len(grade_rows),
        grades_total=(len(evaluation.systems) * suite.criteria_count - failed) * evaluation.passes,
        cost_so_far=sum(row["cost"] for row in per_system),
        per_system=per_system,
    )


# -- running -------------------------------------------------------------------------------


GRADE_FIRST, ANSWER_NEXT = 0, 1


class Slots:
    """The evaluation's concurrency: `size` calls at once, answers and grades together; a freed
    slot goes to a waiting grade before a waiting answer, so finished answers are graded while
    the rest are asked (an evaluation stopped at its cap has whole tasks, not ungraded answers)."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @contextlib.asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot as it was cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a cancelled waiter's turn is done already: skipped
                turn.set_result(None)
                return
        self.free += 1


class _Halt(Exception):
    """The evaluation stops where it is: the owner's budget refused a run, or the run limits
    never let one start."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


@dataclass
class _Job:
    """One run of an evaluation in this process: what it reads once, what it counts as it goes."""

    evaluation: Evaluation
    owner: User
    services: Services
    client: ModelClient
    catalog: Catalog
    infos: dict[str, ModelInfo]
    tasks: dict[str, Task]
    panels: dict[str, Panel]
    progress: Progress
    report: Callable[[Progress], None] | None
    spent: float
    limit: Slots
    run_slots: asyncio.Semaphore
    reserved: float = 0.0
    capped: bool = False
    halted: _Halt | None = None

    # -- the cost cap --

    def reserve(self, estimate: float | None) -> float | None:
        """Reserve `estimate` against the cap; None (and nothing more starts) when it would pass it.
        No await between the check and the reservation: the event loop makes it atomic."""
        if self.capped or self.halted is not None:
            return None
        cap = self.evaluation.max_cost
        expected = estimate or 0.0
        if cap is not None and self.spent + self.reserved + expected > cap:
            self.capped = True
            return None
        self.reserved += expected
        return expected

    def settle(self, reserved: float, cost: float | None, system: str) -> None:
        self.reserved -= reserved
        self.spent += cost or 0.0
        self.progress.cost_so_far += cost or 0.0
        for row in self.progress.per_system:
            if row["system"] == system:
                row["cost"] += cost or 0.0

    def tell(self) -> None:
        if self.report is not None:
            self.report(self.progress)

    # -- answers --

    async def answer_and_grade(self, answer: EvalAnswer) -> None:
        if answer.status == EvalAnswer.Status.PENDING:
            await self.ask(answer)
        if answer.status == EvalAnswer.Status.DONE:
            await self.grade_all(answer)

    async def ask(self, answer: EvalAnswer) -> None:
        # A run slot first: an answer waiting for one holds no slot a grade could use.
        async with self.run_slots, self.limit.slot(ANSWER_NEXT):
            panel = self.panels[answer.system]
            reserved = self.reserve(answer_estimate(panel, self.catalog))
            if reserved is None:
                return
            try:
                await self._ask(answer, panel)
            finally:
                finished = answer.status != EvalAnswer.Status.PENDING
                self.settle(reserved, answer.cost if finished else None, answer.system)
        if answer.status in (EvalAnswer.Status.DONE, EvalAnswer.Status.FAILED):
            self.progress.answers_done += 1
            for row in self.progress.per_system:
                if row["system"] == answer.system:
                    row["answers_done"] += 1
            if answer.status == EvalAnswer.Status.FAILED:
                task = self.tasks[answer.task_id]
                self.progress.grades_total -= len(task.criteria) * self.evaluation.passes
            self.tell()

    async def _ask(self, answer: EvalAnswer, panel: Panel) -> None:
        task = self.tasks[answer.task_id]
        call = runs.Call(context=task.context, prompt=task.prompt, panel=panel, listed=False)
        run: Run | None = None
        try:
            started = await self._start(answer, call)
            if started is None:
                return
            run, queue = started
            answer.run, answer.status = run, EvalAnswer.Status.RUNNING
            await answer.asave(update_fields=["run", "status"])
            outcome = Outcome(list(panel.seats), panel.judge, panel.writer_model)
            while (event := await queue.get()) is not None:
                outcome.apply(event)
            await self._finish(answer, run, outcome)
        except asyncio.CancelledError:
            # Stopped (Ctrl-C, Stop, a cancelled task): the run stops too, and an answer not
            # saved as finished is asked again on resume.
            if run is not None:
                with contextlib.suppress(Exception):
                    await runs.stop(run.pk, services=self.services)
                    await runs.wait(run.pk)
            # A save the cancel caught still queued never ran: the answer is saved again here,
            # as finished when it was, else as pending.
            if answer.status not in (EvalAnswer.Status.DONE, EvalAnswer.Status.FAILED):
                answer.status, answer.run = EvalAnswer.Status.PENDING, None
            await answer.asave()
            raise

    async def _finish(self, answer: EvalAnswer, run: Run, outcome: Outcome) -> None:
        """The answer as the ended run gives it: its text (none: FAILED, saying why) and totals."""
        await read_early_end(outcome, run.pk)
        saved = await Run.objects.aget(pk=run.pk)
        text = answer_text(outcome)
        answer.text = text
        answer.prompt_tokens, answer.completion_tokens = saved.prompt_tokens, saved.completion_tokens
        answer.cost = saved.cost
        answer.latency_s = saved.duration_ms / 1000 if saved.duration_ms is not None else None
        if text.strip():
            answer.status, answer.error = EvalAnswer.Status.DONE, ""
        else:
            answer.status = EvalAnswer.Status.FAILED
            answer.error = f"No usable answer ({outcome.run_status}): {outcome.note or outcome.error_code}"
        await answer.asave()

    async def _start(self, answer: EvalAnswer, call: runs.Call) -> tuple[Run, asyncio.Queue[Any]] | None:
        """The run started through the gate, waiting out the run limits; None when the gate
        refused it for good (the answer then failed, or the evaluation halts)."""
        for delay in (*LIMIT_RETRY_DELAYS, None):
            try:
                return await runs.start_call(self.owner, call, services=self.services)
            except RunLimitReached as refused:
                if delay is None:
                    self.halted = _Halt(f"Stopped: the run limits kept refusing ({refused.message}).")
                    return None
                await pause(delay)
            except (BudgetExceeded, TokenBudgetExceeded) as refused:
                self.halted = _Halt(f"Stopped by your spend budget: {refused.message}")
                return None
            except runs.LimitReached as refused:
                answer.status, answer.error = EvalAnswer.Status.FAILED, refused.message
                await answer.asave(update_fields=["status", "error"])
                return None
        return None

    # -- grades --

    async def grade_all(self, answer: EvalAnswer) -> None:
        task = self.tasks[answer.task_id]
        done = {
            (criterion, index)
            async for criterion, index in EvalGrade.objects.filter(answer=answer).values_list(
                "criterion", "pass_index"
            )
        }
        missing = [
            (criterion, index)
            for index in range(self.evaluation.passes)
            for criterion in task.criteria
            if (criterion.id, index) not in done
        ]
        await asyncio.gather(*(self.grade_one(answer, task, c, i) for c, i in missing))

    async def grade_one(self, answer: EvalAnswer, task: Task, criterion: Criterion, index: int) -> None:
        reserved: float | None = None
        cost = None
        try:
            async with self.limit.slot(GRADE_FIRST):
                prompt_tokens = GRADE_PROMPT_TOKENS - TYPICAL_FUSED_TOKENS + len(answer.text) // 4
                reserved = self.reserve(grade_estimate(self.evaluation.grader, self.catalog, prompt_tokens))
                if reserved is None:
                    return
                try:
                    row = await sync_to_async(open_grading)(self.owner, self.evaluation.grader, reserved)
                except (BudgetExceeded, TokenBudgetExceeded) as refused:
                    self.halted = _Halt(f"Stopped by your spend budget: {refused.message}")
                    return
                try:
                    graded = await grading.grade(
                        self.client,
                        self.evaluation.grader,
                        task,
                        criterion,
                        answer.text,
                        time.perf_counter,
                        info=self.infos.get(self.evaluation.grader),
                    )
                except BaseException:
                    # Cut short: what the calls used replaces what was reserved all the same.
                    await asyncio.shield(sync_to_async(_graded)(row, None, answer.pk, criterion.id, index))
                    raise
            # The call is over, and its slot already another's: the database thread (one for
            # every trip, behind the others' queries) no longer holds back the next grader call.
            await asyncio.shield(sync_to_async(_graded)(row, graded, answer.pk, criterion.id, index))
            cost = graded.cost
        finally:
            if reserved is not None:
                self.settle(reserved, cost, answer.system)
        self.progress.grades_done += 1
        self.tell()


def _graded(row: ApiCall, graded: grading.Grade | None, answer_id: int, criterion: str, index: int) -> None:
    """The grader call settled and, when it gave a grade, the grade saved: one trip to the
    database thread and one transaction a grade, the grade one statement with no read first (an
    upsert, as update_or_create was: grade_all asks only for grades not saved). Sync (database)."""
    used = graded.calls if graded is not None else []
    with transaction.atomic():
        row.settle(
            ok=graded is not None and graded.verdict is not None,
            prompt_tokens=sum(call.prompt_tokens for call in used),
            completion_tokens=sum(call.completion_tokens for call in used),
            cost=sum(call.cost or 0.0 for call in used) if used else None,
        )
        if graded is None:
            return
        grade = EvalGrade(
            answer_id=answer_id,
            criterion=criterion,
            pass_index=index,
            verdict=graded.verdict or "",
            reason=graded.reason,
            error=graded.error,
            calls=len(graded.calls),
            cost=graded.cost,
        )
        EvalGrade.objects.bulk_create(
            [grade],
            update_conflicts=True,
            unique_fields=["answer", "criterion", "pass_index"],
            update_fields=["verdict", "reason", "error", "calls", "cost"],
        )


def answer_text(outcome: Outcome) -> str:
    """The answer graded: the fused one; a lone seat's own text (a model alone); without a fused
    answer, the panel's answers as the chatroom shows them."""
    if outcome.has_fused_answer:
        return outcome.fused_text
    if len(outcome.answered) == 1:
        return outcome.answered[0].text
    return outcome.content()


def _begin(evaluation_id: int) -> tuple[Evaluation, list[EvalAnswer], list[Endpoint]]:
    """Mark the evaluation running and its answers ready (created where missing, those a dead
    process left running asked again). Sync (database)."""
    evaluation = Evaluation.objects.select_related("owner", "suite").get(pk=evaluation_id)
    interrupt_if_stale(evaluation)
    if evaluation.status == Evaluation.Status.RUNNING:
        raise EvaluationRefused("This evaluation is already running.")
    if evaluation.status == Evaluation.Status.DONE:
        raise EvaluationRefused("This evaluation is done.")
    suite = evaluation.suite.suite
    endpoints = endpoints_for(evaluation.owner)  # KeyUnavailable before anything changes
    EvalAnswer.objects.bulk_create(
        [
            EvalAnswer(evaluation=evaluation, system=system, task_id=task.id)
            for system in evaluation.systems
            for task in suite.tasks
        ],
        ignore_conflicts=True,
    )
    EvalAnswer.objects.filter(evaluation=evaluation, status=EvalAnswer.Status.RUNNING).update(
        status=EvalAnswer.Status.PENDING, run=None
    )
    now = timezone.now()
    evaluation.status, evaluation.note = Evaluation.Status.RUNNING, ""
    evaluation.started_at = evaluation.started_at or now
    evaluation.heartbeat_at, evaluation.finished_at = now, None
    evaluation.save(update_fields=["status", "note", "started_at", "heartbeat_at", "finished_at"])
    order = {
        (system, task.id): i
        for i, (system, task) in enumerate(
            (system, task) for task in suite.tasks for system in evaluation.systems
        )
    }
    answers = sorted(
        EvalAnswer.objects.filter(evaluation=evaluation),
        key=lambda a: order.get((a.system, a.task_id), len(order)),
    )
    return evaluation, answers, endpoints


def _spent(evaluation: Evaluation) -> float:
    answers = EvalAnswer.objects.filter(evaluation=evaluation).aggregate(total=Sum("cost"))["total"]
    grades = EvalGrade.objects.filter(answer__evaluation=evaluation).aggregate(total=Sum("cost"))["total"]
    return float(answers or 0.0) + float(grades or 0.0)


def _end(evaluation_id: int, status: str, note: str, *, only_running: bool = False) -> None:
    rows = Evaluation.objects.filter(pk=evaluation_id)
    if only_running:
        rows = rows.filter(status=Evaluation.Status.RUNNING)
    rows.update(status=status, note=note, finished_at=timezone.now())


async def _heartbeat(evaluation_id: int, job_task: asyncio.Future[Any]) -> None:
    """Touch the evaluation while it runs; a stop asked from another process (its row marked
    stopped) stops this one."""
    while True:
        await asyncio.sleep(settings.FUSIONROOM_HEARTBEAT_SECONDS)
        status = await Evaluation.objects.filter(pk=evaluation_id).values_list("status", flat=True).afirst()
        if status != Evaluation.Status.RUNNING:
            job_task.cancel()
            return
        await Evaluation.objects.filter(pk=evaluation_id).aupdate(heartbeat_at=timezone.now())


def capped_note(evaluation: Evaluation, progress: Progress) -> str:
    return (
        f"Stopped at the cost cap of ${evaluation.max_cost:.4f} after ${progress.cost_so_far:.4f}: "
        f"{progress.answers_done} of {progress.answers_total} answers and {progress.grades_done} of "
        f"{progress.grades_total} grades done. Raise the cap and resume to go on."
    )


STOPPED_NOTE = "Stopped. Resume it to go on: nothing done is redone."


async def run_evaluation(
    evaluation_id: int,
    *,
    services: Services | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> None:
    """Run the evaluation, or resume it, to its end, its cost cap or a stop; each ends it with
    its status and a note. Cancelled (Ctrl-C, stop_evaluation), it stops its runs, saves what
    was done and ends "stopped". Raises EvaluationRefused when it is running or done already."""
    try:
        evaluation, answers, endpoints = await sync_to_async(_begin)(evaluation_id)
    except asyncio.CancelledError:
        # Stopped as it began: _begin still ends in the database thread, before this.
        await sync_to_async(_end)(evaluation_id, Evaluation.Status.STOPPED, STOPPED_NOTE, only_running=True)
        raise
    # The answers' events are read here: every run executes in this process.
    services = (services or current()).replace(here=True)
    try:
        catalog = await load_catalog(endpoints)
        suite = evaluation.suite.suite
        owner = evaluation.owner
        panels = {
            system.label: await sync_to_async(panel_for)(owner, system, evaluation.blocked_domains)
            for system in evaluation.parsed_systems
        }
        job = _Job(
            evaluation=evaluation,
            owner=owner,
            services=services,
            client=services.client_for(endpoints),
            catalog=catalog,
            infos=catalog.infos(),
            tasks={task.id: task for task in suite.tasks},
            panels=panels,
            progress=await sync_to_async(progress_of)(evaluation),
            report=progress,
            spent=await sync_to_async(_spent)(evaluation),
            limit=Slots(evaluation.concurrency),
            run_slots=asyncio.Semaphore(
                max(1, min(evaluation.concurrency, settings.FUSIONROOM_MAX_CONCURRENT_RUNS))
            ),
        )
    except BaseException as error:
        note = STOPPED_NOTE if isinstance(error, asyncio.CancelledError) else f"Could not start: {error}"
        status = (
            Evaluation.Status.STOPPED
            if isinstance(error, asyncio.CancelledError)
            else Evaluation.Status.FAILED
        )
        await sync_to_async(_end)(evaluation_id, status, note)
        raise
    job.tell()
    # return_exceptions: cancelled, the gathering ends only once every answer has cleaned up
    # (stopped its run, put itself back to be asked again); one that fails spoils no other.
    work = asyncio.gather(*(job.answer_and_grade(answer) for answer in answers), return_exceptions=True)
    beat = asyncio.create_task(_heartbeat(evaluation_id, work))
    try:
        failures = [result for result in await work if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
    except asyncio.CancelledError:
        # This task was cancelled (Ctrl-C, stop_evaluation here), or the work was by the
        # heartbeat (a stop asked elsewhere): either way the work was cancelled, and has ended.
        await sync_to_async(_end)(evaluation_id, Evaluation.Status.STOPPED, STOPPED_NOTE)
        this = asyncio.current_task()
        if this is not None and this.cancelling():
            raise
        return
    except Exception:
        logger.exception("Evaluation %s failed", evaluation_id)
        await sync_to_async(_end)(
            evaluation_id,
            Evaluation.Status.FAILED,
            "The evaluation failed because of an error in FusionRoom.",
        )
        raise
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    if job.halted is not None:
        await sync_to_async(_end)(evaluation_id, Evaluation.Status.STOPPED, job.halted.note)
    elif job.capped:
        final = await sync_to_async(progress_of)(evaluation)
        await sync_to_async(_end)(evaluation_id, Evaluation.Status.CAPPED, capped_note(evaluation, final))
    else:
        await sync_to_async(_end)(evaluation_id, Evaluation.Status.DONE, "")


def launch(evaluation_id: int) -> None:
    """Run (or resume) the evaluation as a task of this process's event loop; it outlives the
    request that asked. Call it on the loop (an async view)."""
    if evaluation_id in _tasks:
        raise EvaluationRefused("This evaluation is already running.")
    task = asyncio.get_running_loop().create_task(_launched(evaluation_id), context=contextvars.Context())
    _tasks[evaluation_id] = task
    task.add_done_callback(lambda _: _tasks.pop(evaluation_id, None))


async def _launched(evaluation_id: int) -> None:
    try:
        await run_evaluation(evaluation_id)
    except EvaluationRefused as refused:
        logger.info("Evaluation %s not run: %s", evaluation_id, refused.message)
    except Exception:
        logger.exception("Evaluation %s crashed", evaluation_id)


async def stop_evaluation(evaluation_id: int) -> None:
    """Stop the evaluation cleanly, here or in the process running it (which sees its row marked
    stopped at its next heartbeat); what is done stays, and resuming goes on from there."""
    await Evaluation.objects.filter(
        pk=evaluation_id, status__in=[Evaluation.Status.RUNNING, Evaluation.Status.PENDING]
    ).aupdate(status=Evaluation.Status.STOPPED, note=STOPPED_NOTE, finished_at=timezone.now())
    task = _tasks.get(evaluation_id)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
