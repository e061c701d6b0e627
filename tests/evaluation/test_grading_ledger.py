"""A grader call's row (ApiCall, no token): opened through the gate against alice's budget,
settled with the grade it gave in one transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from chat.evaluation.grading import Grade
from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.runner import _graded
from chat.fusion.events import CallStats
from chat.models import ApiCall, SpendBudget
from chat.runs.gate import BudgetExceeded, open_grading
from tests.evaluation.conftest import GRADER

pytestmark = pytest.mark.django_db


def test_a_grader_call_without_a_budget_reserves_its_estimate(alice: User) -> None:
    row = open_grading(alice, GRADER, 0.02)

    saved = ApiCall.objects.get(pk=row.pk)
    assert (saved.status, saved.estimated_cost, saved.token_id) == (ApiCall.Status.RUNNING, 0.02, None)


def test_grader_calls_are_refused_once_their_reservations_would_overspend_the_budget(alice: User) -> None:
    SpendBudget.objects.create(user=alice, limit_usd=Decimal("0.05"))
    open_grading(alice, GRADER, 0.02)
    open_grading(alice, GRADER, 0.02)

    with pytest.raises(BudgetExceeded):
        open_grading(alice, GRADER, 0.02)
    assert ApiCall.objects.filter(user=alice).count() == 2


@pytest.fixture
def answer(alice: User, three_tasks: EvalSuite) -> EvalAnswer:
    evaluation = Evaluation.objects.create(owner=alice, suite=three_tasks, systems=["model:m"], grader=GRADER)
    return EvalAnswer.objects.create(evaluation=evaluation, system="model:m", task_id="t", text="An answer.")


def verdict(met: str, cost: float) -> Grade:
    call = CallStats(model=GRADER, prompt_tokens=900, completion_tokens=20, cost=cost)
    return Grade(verdict=met, reason=f"It is {met}.", calls=[call])  # type: ignore[arg-type]


def test_a_grade_settles_its_call_with_what_it_used_and_is_saved(alice: User, answer: EvalAnswer) -> None:
    row = open_grading(alice, GRADER, 0.02)

    _graded(row, verdict("MET", 0.001), answer.pk, "c1", 0)

    call = ApiCall.objects.get(pk=row.pk)
    assert (call.status, call.prompt_tokens, call.completion_tokens, call.cost) == ("done", 900, 20, 0.001)
    grade = EvalGrade.objects.get(answer=answer)
    assert (grade.criterion, grade.pass_index, grade.verdict) == ("c1", 0, "MET")
    assert (grade.calls, grade.cost) == (1, 0.001)


def test_a_grade_saved_again_replaces_the_first(alice: User, answer: EvalAnswer) -> None:
    _graded(open_grading(alice, GRADER, 0.02), verdict("MET", 0.001), answer.pk, "c1", 0)
    _graded(open_grading(alice, GRADER, 0.02), verdict("UNMET", 0.002), answer.pk, "c1", 0)

    [grade] = EvalGrade.objects.filter(answer=answer)
    assert (grade.verdict, grade.reason, grade.cost) == ("UNMET", "It is UNMET.", 0.002)


def test_a_call_cut_short_is_settled_failed_and_saves_no_grade(alice: User, answer: EvalAnswer) -> None:
    row = open_grading(alice, GRADER, 0.02)

    _graded(row, None, answer.pk, "c1", 0)

    call = ApiCall.objects.get(pk=row.pk)
    assert (call.status, call.cost) == (ApiCall.Status.FAILED, None)
    assert not EvalGrade.objects.exists()
