"""An evaluation's report, built from its saved answers and grades: every figure, the paired
comparisons, each task's verdicts, and the exports (results.csv, report.json, report.html).

Read straight from the rows, so a partial evaluation (capped, stopped, still running) has a
report too: it covers what was finished and says what is missing.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean

import numpy as np
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from pydantic import BaseModel, computed_field

from chat.evaluation.models import EvalAnswer, EvalGrade, Evaluation
from chat.evaluation.plots import domains_svg, score_cost_svg
from chat.evaluation.scoring import (
    Graded,
    axis_scores,
    disagreement,
    errors,
    harmful_rate,
    pass_rate,
    task_score,
)
from chat.evaluation.statistics import SMALL_SUITE, bootstrap, paired
from chat.evaluation.suites import Suite, Task

# results.csv: the columns first, in its order, then ours.
RESULT_COLUMNS = ("system", "task_id", "domain", "score", "cost_usd", "latency_s")
EXTRA_COLUMNS = (
    "status",
    "pass_rate",
    "harmful_errors",
    "grade_errors",
    "prompt_tokens",
    "completion_tokens",
    "run_id",
)
# A text cell starting so is a formula to a spreadsheet (OWASP's CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PARTIAL = ("pending", "running", "capped", "stopped", "interrupted", "failed")


class Verdict(BaseModel):
    """One criterion in one pass: MET, UNMET, or None when the grader kept failing (`error`)."""

    pass_index: int
    verdict: str | None
    reason: str
    error: str


class CriterionResult(BaseModel):
    criterion: str
    axis: str
    weight: int
    requirement: str
    verdicts: list[Verdict]


class TaskResult(BaseModel):
    """One system's answer to one task, scored: a row of results.csv, and the task page's cell."""

    system: str
    task_id: str
    domain: str
    # None when not scored yet (no answer, or no grade); a failed answer scores 0.
    score: float | None
    cost_usd: float | None
    latency_s: float | None
    status: str
    pass_rate: float | None = None
    harmful_rate: float | None = None
    # Negative criteria met, over every pass: errors the answer made.
    harmful_errors: int = 0
    grade_errors: int = 0
    grades_missing: int = 0
    judge_noise: float | None = None
    axes: dict[str, float] = {}
    prompt_tokens: int = 0
    completion_tokens: int = 0
    grading_cost_usd: float | None = None
    run_id: int | None = None
    text: str = ""
    error: str = ""
    criteria: list[CriterionResult] = []


class TaskInfo(BaseModel):
    task_id: str
    domain: str
    prompt: str


class SystemResult(BaseModel):
    system: str
    # Tasks with a score (failed answers count, as 0) out of the suite's.
    tasks: int
    tasks_total: int
    mean: float | None
    low: float | None
    high: float | None
    domains: dict[str, float]
    axes: dict[str, float]
    pass_rate: float | None
    harmful_rate: float | None
    harmful_errors: int
    judge_noise: float | None
    grade_errors: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    # What the system cost to answer; grading is counted apart (grading_cost_usd).
    cost_usd: float | None
    grading_cost_usd: float | None
    latency_mean: float | None
    latency_p50: float | None
    latency_p95: float | None
    # Tasks scoring at or above the threshold, and the answering cost divided among them.
    accepted: int
    cost_per_accepted: float | None
    self_graded: bool = False


class Comparison(BaseModel):
    """System `a` minus system `b`, task by task, on the tasks both scored."""

    a: str
    b: str
    tasks: int
    difference: float | None
    low: float | None
    high: float | None
    wins: int
    losses: int
    ties: int
    share_won: float | None
    warnings: list[str]


class Report(BaseModel):
    evaluation_id: int
    name: str
    suite: str
    status: str
    grader: str
    passes: int
    threshold: float
    seed: int
    self_graded: list[str]
    systems: list[SystemResult]
    comparisons: list[Comparison]
    tasks: list[TaskResult]
    task_info: list[TaskInfo]
    domains: list[str]
    answers_missing: int
    grades_missing: int
    cost_usd: float
    grading_cost_usd: float
    notes: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def partial(self) -> bool:
        return self.status in PARTIAL or self.answers_missing > 0 or self.grades_missing > 0

    def answers_to(self, task_id: str) -> list[TaskResult]:
        """Every system's answer to one task, in the evaluation's order of systems."""
        return [row for row in self.tasks if row.task_id == task_id]


def build_report(evaluation: Evaluation) -> Report:
    suite = evaluation.suite.suite
    answers = list(EvalAnswer.objects.filter(evaluation=evaluation).order_by("pk"))
    grades: defaultdict[int, list[EvalGrade]] = defaultdict(list)
    for grade in EvalGrade.objects.filter(answer__evaluation=evaluation).order_by("pass_index", "pk"):
        grades[grade.answer_id].append(grade)
    found = {(answer.system, answer.task_id): answer for answer in answers}

    rows: list[TaskResult] = []
    grades_missing = 0
    for system in evaluation.systems:
        for task in suite.tasks:
            answer = found.get((system, task.id))
            if answer is None:
                rows.append(_unanswered(system, task.id, task.domain))
                continue
            row = _scored(answer, grades[answer.pk], task, evaluation.passes)
            rows.append(row)
            grades_missing += row.grades_missing

    systems = [
        _system_result(system, [row for row in rows if row.system == system], evaluation, suite)
        for system in evaluation.systems
    ]
    comparisons = [
        _comparison(a, b, rows, evaluation.seed) for a, b in itertools.combinations(evaluation.systems, 2)
    ]
    answers_missing = sum(row.status in ("pending", "running", "missing") for row in rows)
    report = Report(
        evaluation_id=evaluation.pk,
        name=str(evaluation),
        suite=evaluation.suite.name,
        status=evaluation.status,
        grader=evaluation.grader,
        passes=evaluation.passes,
        threshold=evaluation.threshold,
        seed=evaluation.seed,
        self_graded=list(evaluation.self_graded),
        systems=systems,
        comparisons=comparisons,
        tasks=rows,
        task_info=[TaskInfo(task_id=t.id, domain=t.domain, prompt=t.prompt) for t in suite.tasks],
        domains=suite.domains,
        answers_missing=answers_missing,
        grades_missing=grades_missing,
        cost_usd=sum(answer.cost or 0.0 for answer in answers),
        grading_cost_usd=sum(g.cost or 0.0 for graded in grades.values() for g in graded),
        notes=[],
    )
    report.notes = _notes(report, evaluation)
    return report


def _unanswered(system: str, task_id: str, domain: str) -> TaskResult:
    return TaskResult(
        system=system,
        task_id=task_id,
        domain=domain,
        score=None,
        cost_usd=None,
        latency_s=None,
        status="missing",
    )


def _scored(answer: EvalAnswer, grades: list[EvalGrade], task: Task, passes: int) -> TaskResult:
    """The answer's row: its score over the grades saved so far, and every verdict."""
    criteria = {criterion.id: criterion for criterion in task.criteria}
    by_pass: defaultdict[int, list[Graded]] = defaultdict(list)
    verdicts: defaultdict[str, list[Verdict]] = defaultdict(list)
    counted = 0
    for grade in grades:
        criterion = criteria.get(grade.criterion)
        if criterion is None:  # not a criterion of this task's rubric: nothing to score
            continue
        counted += 1
        verdict = grade.verdict if grade.verdict in ("MET", "UNMET") else None
        by_pass[grade.pass_index].append(
            Graded(criterion=criterion.id, weight=criterion.weight, verdict=verdict, axis=criterion.axis)  # type: ignore[arg-type]
        )
        verdicts[criterion.id].append(
            Verdict(pass_index=grade.pass_index, verdict=verdict, reason=grade.reason, error=grade.error)
        )
    graded = [by_pass[index] for index in sorted(by_pass)]
    failed = answer.status == EvalAnswer.Status.FAILED
    done = answer.status == EvalAnswer.Status.DONE
    score = 0.0 if failed else task_score(graded) if done else None
    grading_costs = [grade.cost for grade in grades if grade.cost is not None]
    return TaskResult(
        system=answer.system,
        task_id=answer.task_id,
        domain=task.domain,
        score=score,
        cost_usd=answer.cost,
        latency_s=answer.latency_s,
        status=answer.status,
        pass_rate=pass_rate(graded),
        harmful_rate=harmful_rate(graded),
        harmful_errors=sum(g.met for pass_ in graded for g in pass_ if g.weight < 0),
        grade_errors=errors(graded),
        judge_noise=disagreement(graded),
        axes=axis_scores(graded) if done else {},
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        grading_cost_usd=sum(grading_costs) if grading_costs else None,
        run_id=answer.run_id,
        text=answer.text,
        error=answer.error,
        # A done answer is graded on every criterion in every pass; until then its score is provisional.
        grades_missing=max(len(task.criteria) * passes - counted, 0) if done else 0,
        criteria=[
            CriterionResult(
                criterion=c.id,
                axis=c.axis,
                weight=c.weight,
                requirement=c.requirement,
                verdicts=verdicts[c.id],
            )
            for c in task.criteria
        ],
    )


def _system_result(system: str, rows: list[TaskResult], evaluation: Evaluation, suite: Suite) -> SystemResult:
    scored = [row for row in rows if row.score is not None]
    scores = [row.score for row in scored if row.score is not None]
    interval = bootstrap(scores, seed=evaluation.seed) if scores else None
    by_domain: defaultdict[str, list[float]] = defaultdict(list)
    by_axis: defaultdict[str, list[float]] = defaultdict(list)
    for row in scored:
        by_domain[row.domain].append(row.score or 0.0)
        for axis, value in row.axes.items():
            by_axis[axis].append(value)
    graded = [row for row in rows if row.status == EvalAnswer.Status.DONE]
    negative = sum(row.harmful_rate is not None for row in graded)
    costs = [row.cost_usd for row in rows if row.cost_usd is not None]
    grading = [row.grading_cost_usd for row in rows if row.grading_cost_usd is not None]
    latencies = [row.latency_s for row in rows if row.latency_s is not None]
    accepted = sum(score >= evaluation.threshold for score in scores)
    cost = sum(costs) if costs else None
    return SystemResult(
        system=system,
        tasks=len(scores),
        tasks_total=len(suite.tasks),
        mean=interval.mean if interval else None,
        low=interval.low if interval else None,
        high=interval.high if interval else None,
        domains={domain: fmean(values) for domain, values in sorted(by_domain.items())},
        axes={axis: fmean(values) for axis, values in sorted(by_axis.items())},
        pass_rate=_pooled(graded, "pass_rate"),
        harmful_rate=_pooled(graded, "harmful_rate") if negative else None,
        harmful_errors=sum(row.harmful_errors for row in graded),
        judge_noise=_mean([row.judge_noise for row in graded]),
        grade_errors=sum(row.grade_errors for row in rows),
        failed=sum(row.status == EvalAnswer.Status.FAILED for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        cost_usd=cost,
        grading_cost_usd=sum(grading) if grading else None,
        latency_mean=fmean(latencies) if latencies else None,
        latency_p50=_percentile(latencies, 50),
        latency_p95=_percentile(latencies, 95),
        accepted=accepted,
        cost_per_accepted=(cost or 0.0) / accepted if accepted else None,
        self_graded=system in evaluation.self_graded,
    )


def _pooled(rows: list[TaskResult], figure: str) -> float | None:
    """A rate over every criterion graded across the tasks, not a mean of per-task rates: a task
    with many negative criteria weighs as much as it has."""
    passes_of = {"pass_rate": pass_rate, "harmful_rate": harmful_rate}[figure]
    graded = [
        [Graded(criterion=c.criterion, weight=c.weight, verdict=v.verdict) for v in c.verdicts]  # type: ignore[arg-type]
        for row in rows
        for c in row.criteria
    ]
    return passes_of(graded)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return fmean(present) if present else None


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _comparison(a: str, b: str, rows: list[TaskResult], seed: int) -> Comparison:
    scores_a = {row.task_id: row.score for row in rows if row.system == a and row.score is not None}
    scores_b = {row.task_id: row.score for row in rows if row.system == b and row.score is not None}
    both = [task_id for task_id in scores_a if task_id in scores_b]
    if not both:
        return Comparison(
            a=a,
            b=b,
            tasks=0,
            difference=None,
            low=None,
            high=None,
            wins=0,
            losses=0,
            ties=0,
            share_won=None,
            warnings=["no task scored by both systems yet"],
        )
    result = paired([scores_a[t] or 0.0 for t in both], [scores_b[t] or 0.0 for t in both], seed=seed)
    return Comparison(
        a=a,
        b=b,
        tasks=result.difference.n,
        difference=result.difference.mean,
        low=result.difference.low,
        high=result.difference.high,
        wins=result.wins,
        losses=result.losses,
        ties=result.ties,
        share_won=result.share_won,
        warnings=result.warnings(),
    )


def _notes(report: Report, evaluation: Evaluation) -> list[str]:
    notes = [
        f"Graded by {report.grader}: every criterion of every answer judged MET or UNMET, "
        f"{report.passes} independent pass{'es' if report.passes != 1 else ''}, temperature 0. "
        f"Accepted: a task scoring at least {report.threshold:g}. Bootstrap seed {report.seed}."
    ]
    if report.self_graded:
        notes.append(
            f"SELF-GRADED: the grader {report.grader} sits in {', '.join(report.self_graded)} "
            "(as a seat, judge or writer), and grading its own team was allowed. Those scores may "
            "be inflated: compare them with care."
        )
    if report.partial:
        what = {
            "capped": "stopped at its cost cap"
            + (f" (${evaluation.max_cost:.2f})" if evaluation.max_cost is not None else ""),
            "stopped": "stopped by its owner",
            "running": "still running",
            "pending": "not started",
            "interrupted": "interrupted",
            "failed": "failed",
        }.get(report.status, report.status)
        notes.append(
            f"PARTIAL: this evaluation is {what}; {report.answers_missing} answer(s) and "
            f"{report.grades_missing} grade(s) are missing. The figures cover only what was finished."
        )
    if evaluation.note:
        notes.append(evaluation.note)
    errors_total = sum(system.grade_errors for system in report.systems)
    if errors_total:
        notes.append(
            f"{errors_total} grading call(s) kept failing: left out of the scores and counted, "
            "never read as UNMET."
        )
    failed = sum(system.failed for system in report.systems)
    if failed:
        notes.append(f"{failed} answer(s) failed (no usable answer): each scores 0.")
    if len(report.task_info) < SMALL_SUITE:
        notes.append(
            f"Only {len(report.task_info)} tasks: the intervals are wide; "
            "a difference inside them may be chance."
        )
    return notes


def results_csv(report: Report) -> str:
    """One row per system × task, with the issue's columns first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*RESULT_COLUMNS, *EXTRA_COLUMNS], extrasaction="ignore")
    writer.writeheader()
    for row in report.tasks:
        values = row.model_dump(include={*RESULT_COLUMNS, *EXTRA_COLUMNS})
        writer.writerow({key: _cell(value) for key, value in values.items()})
    return out.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # A suite's ids and domains come from anyone's file: a spreadsheet must not run them.
        return "'" + value
    return value


def report_json(report: Report) -> str:
    return report.model_dump_json(indent=2)


def report_html(report: Report) -> str:
    """One self-contained file: inline CSS, the plots as inline SVG, no script, no outside request.
    Every text from a model or a user goes through the template's autoescaping."""
    by_task: defaultdict[str, list[TaskResult]] = defaultdict(list)
    for row in report.tasks:
        by_task[row.task_id].append(row)
    axes = sorted({axis for system in report.systems for axis in system.axes})
    return render_to_string(
        "evaluation/report_file.html",
        {
            "report": report,
            "axes": axes,
            "domain_rows": [(s.system, [s.domains.get(d) for d in report.domains]) for s in report.systems],
            "axis_rows": [(s.system, [s.axes.get(a) for a in axes]) for s in report.systems],
            "by_task": [(info, by_task[info.task_id]) for info in report.task_info],
            # Our own drawing (plots.py escapes every label it draws), not a model's text.
            "score_cost_svg": mark_safe(score_cost_svg(report)),  # noqa: S308
            "domains_svg": mark_safe(domains_svg(report)),  # noqa: S308
        },
    )


def write_outputs(report: Report, directory: Path) -> None:
    """DIR/results.csv, DIR/report.json and DIR/report.html."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.csv").write_text(results_csv(report), encoding="utf-8")
    (directory / "report.json").write_text(report_json(report), encoding="utf-8")
    (directory / "report.html").write_text(report_html(report), encoding="utf-8")
