"""Benchmark 14: the evaluation harness's grading throughput and its CPU per grade.

An evaluation of a generated suite (tasks × criteria) whose answers are already there, graded by
a simulated grader that answers at once (a simulator in a process of its own, so its CPU is not
ours), at several concurrency settings: grades per second, this process's CPU per grade
(`time.process_time`, every thread: the loop and the database thread) and the SQL statements per
grade. With the grader's time near zero, what bounds the rate is our own work per grade.

Prints one JSON line of results last. Profiled with
`py-spy record -f raw -o grading.txt -- .venv/bin/python -m bench.grading` (every thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
from typing import Any

from bench.common import proc_cpu_seconds
from bench.simproc import SimulatorProcess

GRADER = "mistralai/mistral-medium-3"
SYSTEM = "model:openai/gpt-5.5"
ANSWER = "A plan in four steps: back up, migrate a copy, compare, switch over. " * 20
CONCURRENCY = (1, 4, 16)
PACED_S = 0.1


def setup() -> Any:
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # DEBUG keeps every query: not what production holds
    from django.contrib.auth.models import User

    return User.objects.create_user("grading", password="x-very-long-password-1")


def generated_suite(user: Any, tasks: int, criteria: int) -> Any:
    from chat.evaluation.models import EvalSuite
    from chat.evaluation.suites import Criterion, Suite, Task

    suite = Suite(
        tasks=[
            Task(
                id=f"t{t}",
                messages=[{"role": "user", "content": f"How should team {t} plan a database migration?"}],
                criteria=[
                    Criterion(id=f"c{c}", weight=1 + c % 3, requirement=f"It names step {c} of the plan.")
                    for c in range(criteria)
                ],
            )
            for t in range(tasks)
        ]
    )
    row = EvalSuite.of(user, f"generated {tasks}×{criteria}", suite, "generated.jsonl")
    row.save()
    return row


def evaluation_with_answers(user: Any, suite: Any, concurrency: int) -> int:
    """A pending evaluation of one system whose every answer is already done: only grading is left."""
    from chat.evaluation.models import EvalAnswer
    from chat.evaluation.runner import create_evaluation

    evaluation = create_evaluation(user, suite, [SYSTEM], GRADER, passes=1, concurrency=concurrency)
    EvalAnswer.objects.bulk_create(
        EvalAnswer(
            evaluation=evaluation,
            system=SYSTEM,
            task_id=task.id,
            status=EvalAnswer.Status.DONE,
            text=ANSWER,
        )
        for task in suite.suite.tasks
    )
    return int(evaluation.pk)


class QueryCount:
    """SQL statements executed in this process, on any thread, while it is entered."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def __enter__(self) -> QueryCount:
        from django.db.backends import utils

        self.saved = utils.CursorWrapper.execute, utils.CursorWrapper.executemany
        original_execute, original_many = self.saved

        def execute(wrapper: Any, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.n += 1
            return original_execute(wrapper, *args, **kwargs)

        def executemany(wrapper: Any, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.n += 1
            return original_many(wrapper, *args, **kwargs)

        utils.CursorWrapper.execute, utils.CursorWrapper.executemany = execute, executemany  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db.backends import utils

        utils.CursorWrapper.execute, utils.CursorWrapper.executemany = self.saved  # type: ignore[method-assign]


def grade(user: Any, suite: Any, concurrency: int, sim: SimulatorProcess) -> dict[str, Any]:
    from chat.evaluation.models import EvalGrade, Evaluation
    from chat.evaluation.runner import run_evaluation

    evaluation_id = evaluation_with_answers(user, suite, concurrency)
    with QueryCount() as queries:
        cpu0, sim0, started = time.process_time(), proc_cpu_seconds(sim.process.pid), time.monotonic()
        # As in Daphne: the loop on this thread, the ORM on sync_to_async's one database thread.
        asyncio.run(run_evaluation(evaluation_id))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu0
        sim_cpu = proc_cpu_seconds(sim.process.pid) - sim0
    grades = EvalGrade.objects.filter(answer__evaluation_id=evaluation_id)
    count = grades.count()
    # The rate while grading: from the first grader call asked to the last answered (the
    # evaluation's start, its catalog and its rows, is the same whatever the concurrency).
    calls = [r for r in sim.requests_after(started) if r.model == GRADER]
    grading_s = max(r.finished_at for r in calls) - min(r.received_at for r in calls)
    return {
        "concurrency": concurrency,
        "grades": count,
        "verdicts": grades.exclude(verdict="").count(),
        "status": Evaluation.objects.get(pk=evaluation_id).status,
        "seconds": elapsed,
        "grading_s": grading_s,
        # A grader call as the simulator saw it, from its request to its last byte.
        "call_ms_p50": statistics.median(r.finished_at - r.received_at for r in calls) * 1000,
        "grades_per_s": count / grading_s,
        "cpu_s": cpu,
        "cpu_ms_per_grade": cpu / count * 1000,
        "cpu_pct": cpu / elapsed * 100,
        "queries_per_grade": queries.n / count,
        "sim_cpu_ms_per_grade": sim_cpu / count * 1000,
        "sim_cpu_pct": sim_cpu / elapsed * 100,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    tasks, criteria = (3, 4) if quick else (20, 10)
    # The grader answers at once: no time to its first token, its verdict in one burst.
    instant = {GRADER: {"ttft_s": 0, "tokens_per_second": 1e6}}
    results: dict[str, Any] = {"tasks": tasks, "criteria": criteria, "grader": GRADER}
    with SimulatorProcess(instant) as sim:
        os.environ["FUSIONROOM_SIMULATOR_URL"] = sim.base_url
        user = setup()
        suite = generated_suite(user, tasks, criteria)
        grade(user, suite, CONCURRENCY[-1], sim)  # warm: imports, the catalog, the connections
        results["steps"] = [grade(user, suite, c, sim) for c in CONCURRENCY]
        # A grader that takes PACED_S to answer: concurrency c can grade at most c a second ÷ the
        # call's time, which the rate should reach while our CPU allows. Whole rounds of c grades
        # (a last round half full would cost a whole call's time), ~2 s a step.
        sim.configure(GRADER, ttft_s=PACED_S)
        results["paced_s"] = PACED_S
        results["paced"] = [
            grade(user, generated_suite(user, 2 * c if 2 * c <= tasks else c, criteria), c, sim)
            for c in CONCURRENCY
        ]
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
