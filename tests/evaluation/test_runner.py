"""The evaluation runner with the simulator as every model and as the grader: real runs of
alice's through the start gate, graded per criterion and pass, resumable, cost-capped."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.utils import timezone

from chat import history
from chat.evaluation import runner
from chat.evaluation.grading import grading_messages
from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.report import build_report
from chat.evaluation.runner import (
    ANSWER_NEXT,
    GRADE_FIRST,
    EvaluationRefused,
    Progress,
    Slots,
    create_evaluation,
    launch,
    panel_for,
    progress_of,
    run_evaluation,
    stop_evaluation,
)
from chat.evaluation.suites import Criterion, Task
from chat.evaluation.systems import parse_system
from chat.models import ApiCall, Conversation, Panel, Run, SpendBudget
from chat.simulator import SimulatorThread
from tests.evaluation.conftest import GRADER

pytestmark = pytest.mark.django_db(transaction=True)

THREE_SYSTEMS = ["model:openai/gpt-5.5", "self:qwen/qwen3-235b-a22bx2", "preset:budget"]


def create(
    owner: User, suite: EvalSuite, systems: list[str], grader: str = GRADER, **terms: Any
) -> Evaluation:
    return create_evaluation(owner, suite, systems, grader, **terms)


def seat_requests(sim: SimulatorThread, model: str, prompt: str) -> int:
    """How often `model` was asked `prompt` itself (as a seat: the question is its last message)."""
    return sum(
        1
        for record in sim.requests
        if record.model == model and record.body["messages"][-1]["content"] == prompt
    )


def criterion(task: Task, criterion_id: str) -> Criterion:
    return next(c for c in task.criteria if c.id == criterion_id)


def grader_questions(sim: SimulatorThread) -> Counter[str]:
    """Each grading request's question (the answer and the criterion), counted."""
    return Counter(
        record.body["messages"][-1]["content"] for record in sim.requests if record.model == GRADER
    )


@pytest.mark.asyncio
async def test_three_systems_run_end_to_end_as_real_runs_graded_per_criterion_and_pass(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    evaluation = await sync_to_async(create)(alice, three_tasks, THREE_SYSTEMS, passes=2)
    assert evaluation.estimated_cost is not None and evaluation.estimated_cost > 0

    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.DONE
    answers = [a async for a in EvalAnswer.objects.filter(evaluation=evaluation).select_related("run")]
    assert len(answers) == 9
    for answer in answers:
        assert answer.status == EvalAnswer.Status.DONE, answer.error
        assert answer.text.strip() and answer.cost and answer.cost > 0 and answer.latency_s is not None
        assert (
            answer.run is not None
            and await sync_to_async(lambda a: a.run.turn.conversation.owner)(answer) == alice
        )
    # A model alone answers in one seat; self-fusion sits it twice and judges with it.
    alone = next(a for a in answers if a.system == "model:openai/gpt-5.5")
    assert await Run.objects.filter(pk=alone.run_id).values_list("answers__model", flat=True).afirst() == (
        "openai/gpt-5.5"
    )
    criteria = sum(len(task.criteria) for task in three_tasks.suite.tasks)
    grades = [g async for g in EvalGrade.objects.filter(answer__evaluation=evaluation)]
    assert len(grades) == 3 * criteria * 2
    assert {g.verdict for g in grades} <= {"MET", "UNMET"}
    assert sum(grader_questions(simulator).values()) == len(grades)
    # Grader calls spend alice's keys too: each counts in her budget, settled at its cost.
    calls = [c async for c in ApiCall.objects.filter(user=alice)]
    assert len(calls) == len(grades) and {c.status for c in calls} == {ApiCall.Status.DONE}
    assert sum(c.cost or 0 for c in calls) == pytest.approx(sum(g.cost or 0 for g in grades))
    report = await sync_to_async(build_report)(evaluation)
    assert [s.system for s in report.systems] == THREE_SYSTEMS
    assert all(s.mean is not None for s in report.systems)
    # Nine conversations were made for these runs, none of them in alice's sidebar or its search.
    assert await Conversation.objects.filter(owner=alice, listed=False).acount() == 9
    assert not await sync_to_async(lambda: list(history.search(alice)))()


@pytest.mark.asyncio
async def test_killed_half_way_it_resumes_without_repeating_finished_work(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    systems = ["model:openai/gpt-5.5", "self:qwen/qwen3-235b-a22bx2"]
    evaluation = await sync_to_async(create)(alice, three_tasks, systems, passes=1, concurrency=2)
    tasks = {task.id: task for task in three_tasks.suite.tasks}

    async def killed_when(reached: Any) -> None:
        enough = asyncio.Event()

        def watch(progress: Progress) -> None:
            if reached(progress):
                enough.set()

        running = asyncio.create_task(run_evaluation(evaluation.pk, progress=watch))
        waiting = asyncio.create_task(enough.wait())
        await asyncio.wait([running, waiting], return_when=asyncio.FIRST_COMPLETED)
        assert not running.done(), "it ended before it could be killed"
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        waiting.cancel()

    # Killed once among the answers, once among the grades.
    await killed_when(lambda p: p.answers_done >= 2)
    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.STOPPED and evaluation.resumable
    first = {
        (a.system, a.task_id): a.run_id
        async for a in EvalAnswer.objects.filter(evaluation=evaluation, status=EvalAnswer.Status.DONE)
    }
    assert 2 <= len(first) < 6
    assert not await EvalAnswer.objects.filter(
        evaluation=evaluation, status=EvalAnswer.Status.RUNNING
    ).aexists()

    graded_first = await EvalGrade.objects.filter(answer__evaluation=evaluation).acount()
    await killed_when(lambda p: p.grades_done >= graded_first + 4)
    graded_before = [
        grading_messages(
            tasks[g.answer.task_id], criterion(tasks[g.answer.task_id], g.criterion), g.answer.text
        )
        async for g in EvalGrade.objects.filter(answer__evaluation=evaluation).select_related("answer")
    ]
    assert len(graded_before) >= 4

    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.DONE
    after = {(a.system, a.task_id): a.run_id async for a in EvalAnswer.objects.filter(evaluation=evaluation)}
    assert all(after[key] == run_id for key, run_id in first.items())  # the same runs: not asked again
    for (system, task_id), _ in first.items():
        parsed = parse_system(system)
        assert seat_requests(simulator, parsed.target, tasks[task_id].prompt) == parsed.copies
    # A grade saved before the kill was asked once in all; only those cut short were asked again.
    questions = grader_questions(simulator)
    assert all(questions[messages[-1]["content"]] == 1 for messages in graded_before)
    criteria = sum(len(task.criteria) for task in tasks.values())
    assert await EvalGrade.objects.filter(answer__evaluation=evaluation).acount() == 2 * criteria
    assert sum(questions.values()) <= 2 * criteria + 2 * evaluation.concurrency


@pytest.mark.asyncio
async def test_it_stops_at_its_cost_cap_and_goes_on_when_the_cap_is_raised(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    evaluation = await sync_to_async(create)(
        alice, three_tasks, ["model:openai/gpt-5.5"], passes=1, concurrency=1, max_cost=0.02
    )

    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    progress = await sync_to_async(progress_of)(evaluation)
    assert evaluation.status == Evaluation.Status.CAPPED and evaluation.resumable
    assert "cost cap" in evaluation.note and "resume" in evaluation.note
    assert 0 < progress.cost_so_far <= 0.02
    assert progress.answers_done < progress.answers_total
    asked = len(simulator.requests)

    evaluation.max_cost = None
    await evaluation.asave(update_fields=["max_cost"])
    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.DONE
    progress = await sync_to_async(progress_of)(evaluation)
    assert progress.answers_done == progress.answers_total == 3
    assert len(simulator.requests) > asked


def test_it_refuses_a_grader_that_sits_in_a_system(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    # The budget preset's judge is gemini-3-flash: grading it would be grading its own team.
    with pytest.raises(EvaluationRefused, match="grades its own team"):
        create(alice, three_tasks, THREE_SYSTEMS, grader="google/gemini-3-flash-preview")
    assert not Evaluation.objects.exists()


def test_self_grading_is_allowed_with_the_flag_and_recorded(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    evaluation = create(
        alice, three_tasks, THREE_SYSTEMS, grader="google/gemini-3-flash-preview", allow_self_grading=True
    )
    assert evaluation.self_graded == ["preset:budget"]


@pytest.mark.parametrize(
    ("systems", "grader", "message"),
    [
        (["model:no-such/model"], GRADER, "no-such/model"),
        (["preset:platinum"], GRADER, "no preset"),
        (["panel:Not mine"], GRADER, "no panel"),
        (["bogus"], GRADER, "not a system"),
        (["model:openai/gpt-5.5"], "no-such/grader", "no-such/grader"),
    ],
)
def test_it_refuses_what_alice_cannot_run(
    simulator: SimulatorThread,
    alice: User,
    bob: User,
    three_tasks: EvalSuite,
    systems: list[str],
    grader: str,
    message: str,
) -> None:
    Panel.objects.create(owner=bob, name="Not mine", seats=["openai/gpt-5.5"] * 2, judge="openai/gpt-5.5")
    with pytest.raises(EvaluationRefused, match=message):
        create(alice, three_tasks, systems, grader=grader)


def test_a_suite_of_someone_else_is_refused(
    simulator: SimulatorThread, bob: User, three_tasks: EvalSuite
) -> None:
    with pytest.raises(EvaluationRefused, match="no such suite"):
        create(bob, three_tasks, ["model:openai/gpt-5.5"])


@pytest.mark.asyncio
async def test_blocked_domains_reach_every_runs_web_tools(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    await Panel.objects.acreate(
        owner=alice,
        name="Mine",
        seats=["openai/gpt-5.5", "qwen/qwen3-235b-a22b"],
        judge="openai/gpt-5.5",
        excluded_domains=["own.example"],
        blocked_domains=["kept.example"],
    )
    evaluation = await sync_to_async(create)(
        alice,
        three_tasks,
        ["model:openai/gpt-5.5", "panel:mine"],
        passes=1,
        blocked_domains=["https://Rubric.example.org/answers", "key.example"],
    )
    assert evaluation.blocked_domains == ["rubric.example.org", "key.example"]

    await run_evaluation(evaluation.pk)

    runs = [r async for r in Run.objects.filter(turn__conversation__owner=alice)]
    assert len(runs) == 6
    for run in runs:
        assert {"rubric.example.org", "key.example"} <= set(run.excluded_domains)
        assert {"rubric.example.org", "key.example"} <= set(run.blocked_domains)
    panel_runs = [run for run in runs if run.panel_name == "Mine"]
    assert panel_runs and all(
        "own.example" in r.excluded_domains and "kept.example" in r.blocked_domains for r in panel_runs
    )


def test_web_tools_are_forced_on_or_off_per_system(simulator: SimulatorThread, alice: User) -> None:
    on = panel_for(alice, parse_system("model:openai/gpt-5.5+web"), ["rubric.example.org"])
    off = panel_for(alice, parse_system("preset:quality+noweb"))
    assert on.web_search and on.web_tools.blocked_domains == ("rubric.example.org",)
    assert not off.web_search and off.pk is not None  # the preset's own row is left as it was
    assert not Panel.objects.get(pk=off.pk).excluded_domains


@pytest.mark.asyncio
async def test_a_stop_asked_elsewhere_stops_it_at_its_next_heartbeat(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite, settings: Any
) -> None:
    settings.FUSIONROOM_HEARTBEAT_SECONDS = 0.01
    evaluation = await sync_to_async(create)(
        alice, three_tasks, ["model:openai/gpt-5.5"], passes=1, concurrency=1
    )
    answered = asyncio.Event()
    running = asyncio.create_task(
        run_evaluation(evaluation.pk, progress=lambda p: answered.set() if p.answers_done else None)
    )
    await answered.wait()

    await stop_evaluation(evaluation.pk)  # as the web UI's Stop does, from any process
    await running

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.STOPPED and evaluation.resumable
    progress = await sync_to_async(progress_of)(evaluation)
    assert progress.grades_done < progress.grades_total


@pytest.mark.asyncio
async def test_a_launched_evaluation_runs_in_the_background_and_stops_on_request(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    evaluation = await sync_to_async(create)(alice, three_tasks, ["model:openai/gpt-5.5"], passes=1)

    launch(evaluation.pk)
    with pytest.raises(EvaluationRefused, match="already running"):
        launch(evaluation.pk)
    await stop_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.STOPPED
    assert not await EvalAnswer.objects.filter(
        evaluation=evaluation, status=EvalAnswer.Status.RUNNING
    ).aexists()


def test_a_running_evaluation_whose_process_went_silent_is_shown_interrupted(
    alice: User, three_tasks: EvalSuite
) -> None:
    evaluation = Evaluation.objects.create(
        owner=alice,
        suite=three_tasks,
        systems=["model:openai/gpt-5.5"],
        grader=GRADER,
        status=Evaluation.Status.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )

    progress_of(evaluation)

    evaluation.refresh_from_db()
    assert evaluation.status == Evaluation.Status.INTERRUPTED and evaluation.resumable


def test_a_live_one_is_left_running(alice: User, three_tasks: EvalSuite) -> None:
    evaluation = Evaluation.objects.create(
        owner=alice,
        suite=three_tasks,
        systems=["model:openai/gpt-5.5"],
        grader=GRADER,
        status=Evaluation.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    progress_of(evaluation)
    evaluation.refresh_from_db()
    assert evaluation.status == Evaluation.Status.RUNNING


@pytest.mark.asyncio
async def test_a_spend_budget_that_refuses_a_run_stops_it_cleanly(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite
) -> None:
    await SpendBudget.objects.acreate(user=alice, limit_usd=Decimal("0.01"))
    evaluation = await sync_to_async(create)(alice, three_tasks, ["model:openai/gpt-5.5"], passes=1)

    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.STOPPED and evaluation.resumable
    assert "budget" in evaluation.note
    assert not await Run.objects.filter(turn__conversation__owner=alice).aexists()
    assert not simulator.requests  # no model was asked


@pytest.mark.asyncio
async def test_the_run_limits_are_waited_out_a_bounded_number_of_times(
    simulator: SimulatorThread, alice: User, three_tasks: EvalSuite, settings: Any, monkeypatch: Any
) -> None:
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 0  # every start refused, as in a busy minute
    waits: list[float] = []
    monkeypatch.setattr(runner, "LIMIT_RETRY_DELAYS", (0.0, 0.0, 0.0))

    async def counted(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(runner, "pause", counted)
    evaluation = await sync_to_async(create)(
        alice, three_tasks, ["model:openai/gpt-5.5"], passes=1, concurrency=1
    )

    await run_evaluation(evaluation.pk)

    await evaluation.arefresh_from_db()
    assert evaluation.status == Evaluation.Status.STOPPED
    assert "run limits" in evaluation.note
    assert waits == [0.0, 0.0, 0.0]  # one answer tried four times, then nothing more started


@pytest.mark.asyncio
async def test_a_freed_slot_goes_to_a_waiting_grade_before_a_waiting_answer() -> None:
    slots, order = Slots(1), []

    async def take(name: str, priority: int) -> None:
        async with slots.slot(priority):
            order.append(name)

    async with slots.slot(ANSWER_NEXT):
        waiting = [
            asyncio.create_task(take("answer", ANSWER_NEXT)),
            asyncio.create_task(take("grade", GRADE_FIRST)),
        ]
        await asyncio.sleep(0)  # one turn of the loop: both queue up behind the held slot
    await asyncio.gather(*waiting)

    assert order == ["grade", "answer"]


@pytest.mark.asyncio
async def test_a_waiter_cancelled_leaves_no_slot_taken() -> None:
    slots = Slots(1)
    async with slots.slot(ANSWER_NEXT):
        waiter = asyncio.create_task(slots._acquire(GRADE_FIRST))
        await asyncio.sleep(0)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    assert slots.free == 1
