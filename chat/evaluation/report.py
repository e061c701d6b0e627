"""An evaluation's report, built from its saved answers and grades.

A FIRST CUT written by the lead so that the runner, the command and the pages have the names to
call: the report helper replaces the body (every figure the issue lists, the plots, the HTML),
keeping these names and the shape below.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import BaseModel

from chat.evaluation.models import EvalAnswer, EvalGrade, Evaluation
from chat.evaluation.scoring import Graded, task_score
from chat.evaluation.statistics import Interval, bootstrap

RESULT_COLUMNS = ("system", "task_id", "domain", "score", "cost_usd", "latency_s")


class TaskResult(BaseModel):
    system: str
    task_id: str
    domain: str
    score: float | None
    cost_usd: float | None
    latency_s: float | None
    status: str


class SystemResult(BaseModel):
    system: str
    tasks: int
    mean: float | None
    low: float | None
    high: float | None
    cost_usd: float | None


class Report(BaseModel):
    evaluation_id: int
    systems: list[SystemResult]
    tasks: list[TaskResult]


def build_report(evaluation: Evaluation) -> Report:
    suite = evaluation.suite.suite
    domains = {task.id: task.domain for task in suite.tasks}
    weights = {(task.id, c.id): (c.weight, c.axis) for task in suite.tasks for c in task.criteria}
    rows: list[TaskResult] = []
    answers = list(EvalAnswer.objects.filter(evaluation=evaluation).order_by("pk"))
    grades: dict[int, list[EvalGrade]] = {}
    for grade in EvalGrade.objects.filter(answer__evaluation=evaluation):
        grades.setdefault(grade.answer_id, []).append(grade)
    for answer in answers:
        passes: dict[int, list[Graded]] = {}
        for grade in grades.get(answer.pk, []):
            weight, axis = weights[(answer.task_id, grade.criterion)]
            verdict = grade.verdict if grade.verdict in ("MET", "UNMET") else None
            passes.setdefault(grade.pass_index, []).append(
                Graded(criterion=grade.criterion, weight=weight, verdict=verdict, axis=axis)  # type: ignore[arg-type]
            )
        score = 0.0 if answer.status == EvalAnswer.Status.FAILED else task_score(list(passes.values()))
        rows.append(
            TaskResult(
                system=answer.system,
                task_id=answer.task_id,
                domain=domains.get(answer.task_id, ""),
                score=score,
                cost_usd=answer.cost,
                latency_s=answer.latency_s,
                status=answer.status,
            )
        )
    systems = []
    for system in evaluation.systems:
        scores = [row.score for row in rows if row.system == system and row.score is not None]
        interval: Interval | None = bootstrap(scores, seed=evaluation.seed) if scores else None
        costs = [row.cost_usd for row in rows if row.system == system and row.cost_usd is not None]
        systems.append(
            SystemResult(
                system=system,
                tasks=len(scores),
                mean=interval.mean if interval else None,
                low=interval.low if interval else None,
                high=interval.high if interval else None,
                cost_usd=sum(costs) if costs else None,
            )
        )
    return Report(evaluation_id=evaluation.pk, systems=systems, tasks=rows)


def results_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*RESULT_COLUMNS, "status"])
    writer.writeheader()
    for row in report.tasks:
        writer.writerow(row.model_dump())
    return out.getvalue()


def report_json(report: Report) -> str:
    return report.model_dump_json(indent=2)


def report_html(report: Report) -> str:
    return "<!doctype html><title>Evaluation report</title><pre>" + report_json(report) + "</pre>"


def write_outputs(report: Report, directory: Path) -> None:
    """DIR/results.csv, DIR/report.json and DIR/report.html."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.csv").write_text(results_csv(report), encoding="utf-8")
    (directory / "report.json").write_text(report_json(report), encoding="utf-8")
    (directory / "report.html").write_text(report_html(report), encoding="utf-8")
