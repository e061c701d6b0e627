"""`manage.py evaluate`: the headless evaluation, its three files, and resuming from DIR."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from chat.evaluation.models import EvalAnswer, EvalGrade, Evaluation
from chat.simulator import SimulatorThread
from tests.evaluation.conftest import GRADER, starter

pytestmark = pytest.mark.django_db(transaction=True)

REQUIRED_COLUMNS = {"system", "task_id", "domain", "score", "cost_usd", "latency_s"}


def evaluate(*args: str) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(task.model_dump_json() for task in starter(3).tasks) + "\n", encoding="utf-8")
    return path


def test_it_evaluates_three_systems_and_writes_the_three_files(
    simulator: SimulatorThread, alice: User, small_suite: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    output = evaluate(
        str(small_suite),
        "--system",
        "preset:budget",
        "--system",
        "model:openai/gpt-5.5",
        "--system",
        "self:qwen/qwen3-235b-a22bx2",
        "--judge",
        GRADER,
        "--passes",
        "1",
        "--out",
        str(out),
        "--blocked-domain",
        "rubric.example.org",
    )

    assert "Estimated cost: $" in output and "Status: done" in output
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text(encoding="utf-8"))))
    assert set(rows[0]) >= REQUIRED_COLUMNS
    assert len(rows) == 9
    assert {row["system"] for row in rows} == {
        "preset:budget",
        "model:openai/gpt-5.5",
        "self:qwen/qwen3-235b-a22bx2",
    }
    assert all(
        row["score"] != "" and float(row["cost_usd"]) > 0 and float(row["latency_s"]) >= 0 for row in rows
    )
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["evaluation_id"]
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    # It is alice's evaluation, as the web UI lists it.
    evaluation = Evaluation.objects.get(owner=alice)
    assert json.loads((out / "evaluation.json").read_text(encoding="utf-8"))["evaluation_id"] == evaluation.pk
    assert evaluation.blocked_domains == ["rubric.example.org"]


def test_the_same_command_resumes_from_dir_without_redoing_anything(
    simulator: SimulatorThread, alice: User, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [
        "starter",
        "--system",
        "model:openai/gpt-5.5",
        "--judge",
        GRADER,
        "--passes",
        "1",
        "--out",
        str(out),
    ]

    capped = evaluate(*args, "--max-cost", "0.03", "--concurrency", "1")

    assert "Status: capped" in capped and "resume" in capped
    evaluation = Evaluation.objects.get()
    done_before = dict(
        EvalAnswer.objects.filter(evaluation=evaluation, status=EvalAnswer.Status.DONE).values_list(
            "pk", "run_id"
        )
    )
    grades_before = set(EvalGrade.objects.filter(answer__evaluation=evaluation).values_list("pk", flat=True))
    assert 0 < len(done_before) < 12
    assert len((out / "results.csv").read_text(encoding="utf-8").splitlines()) == 1 + 12

    resumed = evaluate(*args, "--max-cost", "10")

    assert "Status: done" in resumed
    assert Evaluation.objects.get().pk == evaluation.pk  # the same one, not another
    after = dict(EvalAnswer.objects.filter(evaluation=evaluation).values_list("pk", "run_id"))
    assert all(after[pk] == run_id for pk, run_id in done_before.items())
    assert grades_before <= set(
        EvalGrade.objects.filter(answer__evaluation=evaluation).values_list("pk", flat=True)
    )
    assert EvalAnswer.objects.filter(evaluation=evaluation, status=EvalAnswer.Status.DONE).count() == 12


def test_it_refuses_a_self_grading_judge_unless_allowed(
    simulator: SimulatorThread, alice: User, small_suite: Path, tmp_path: Path
) -> None:
    args = [
        str(small_suite),
        "--system",
        "self:openai/gpt-5.5x2",
        "--judge",
        "openai/gpt-5.5",
        "--passes",
        "1",
    ]
    with pytest.raises(CommandError, match="grades its own team"):
        evaluate(*args, "--out", str(tmp_path / "a"))

    output = evaluate(*args, "--out", str(tmp_path / "b"), "--allow-self-grading")

    assert "Self-graded (allowed): self:openai/gpt-5.5x2" in output
    assert Evaluation.objects.get().self_graded == ["self:openai/gpt-5.5x2"]


def test_it_needs_a_user_when_there_are_several(
    simulator: SimulatorThread, alice: User, bob: User, small_suite: Path, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="--user"):
        evaluate(
            str(small_suite), "--system", "model:openai/gpt-5.5", "--judge", GRADER, "--out", str(tmp_path)
        )


def test_it_says_which_row_of_a_bad_suite_is_wrong(
    simulator: SimulatorThread, alice: User, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "t1", "domain": "x", "prompt": "Hi", "criteria": []}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="row 1"):
        evaluate(
            str(bad), "--system", "model:openai/gpt-5.5", "--judge", GRADER, "--out", str(tmp_path / "o")
        )
