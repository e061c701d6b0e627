"""The report's figures checked by hand, from answers and grades written straight into the database.

Two systems, three tasks, two passes. Criteria on every task: a (+10, accuracy), b (+10,
completeness), h (−10, accuracy: an error the answer must not make).

    A  t1 science  a b MET, h UNMET, both passes                      100
       t2 history  pass 1: a MET, b UNMET; pass 2: a b MET; h UNMET      75
       t3 history  failed answer                                         0
    B  t1 science  a MET, b UNMET, h MET (a harmful error), both passes   0
       t2 history  a MET; b a grading error in pass 1, MET in pass 2     100
       t3 history  nothing met                                           0
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from chat.evaluation.models import EvalAnswer, EvalGrade, EvalSuite, Evaluation
from chat.evaluation.plots import domains_svg, pareto_front, score_cost_svg
from chat.evaluation.report import build_report, report_html, report_json, results_csv, write_outputs
from chat.evaluation.suites import read_suite

pytestmark = pytest.mark.django_db

A, B = "model:alpha", "preset:budget"
CRITERIA = [
    {"id": "a", "axis": "accuracy", "weight": 10, "requirement": "States the fact."},
    {"id": "b", "axis": "completeness", "weight": 10, "requirement": "Explains why."},
    {"id": "h", "axis": "accuracy", "weight": -10, "requirement": "Makes the classic mistake."},
]


def suite_text(domains: dict[str, str]) -> str:
    import json

    return "\n".join(
        json.dumps({"id": task_id, "domain": domain, "prompt": f"Question {task_id}?", "criteria": CRITERIA})
        for task_id, domain in domains.items()
    )


@pytest.fixture
def evaluation(alice):
    suite = read_suite(suite_text({"t1": "science", "t2": "history", "t3": "history"}))
    row = EvalSuite.of(alice, "tiny", suite, "tiny.jsonl")
    row.save()
    return Evaluation.objects.create(
        owner=alice, suite=row, systems=[A, B], grader="model:grader", passes=2, threshold=70.0, seed=7,
        status=Evaluation.Status.DONE,
    )  # fmt: skip


def answer(
    evaluation, system, task_id, *, cost, latency, status="done", text="An answer.", error="", **verdicts
):
    """An answer and its grades: verdicts as a="MET,UNMET" (pass 1, pass 2); "" is a grading error."""
    row = EvalAnswer.objects.create(
        evaluation=evaluation, system=system, task_id=task_id, status=status, text=text, error=error,
        cost=cost, latency_s=latency, prompt_tokens=100, completion_tokens=50,
    )  # fmt: skip
    for criterion, both in verdicts.items():
        for index, verdict in enumerate(both.split(",")):
            EvalGrade.objects.create(
                answer=row, criterion=criterion, pass_index=index, verdict=verdict, cost=0.001,
                reason=f"{criterion} judged {verdict or 'nothing'}",
                error="" if verdict else "grader timed out",
            )  # fmt: skip
    return row


@pytest.fixture
def graded(evaluation):
    answer(evaluation, A, "t1", cost=0.01, latency=1.0, a="MET,MET", b="MET,MET", h="UNMET,UNMET")
    answer(evaluation, A, "t2", cost=0.02, latency=2.0, a="MET,MET", b="UNMET,MET", h="UNMET,UNMET")
    answer(evaluation, A, "t3", cost=0.03, latency=3.0, status="failed", text="", error="every seat failed")
    answer(evaluation, B, "t1", cost=0.05, latency=4.0, a="MET,MET", b="UNMET,UNMET", h="MET,MET")
    answer(evaluation, B, "t2", cost=0.05, latency=4.0, a="MET,MET", b=",MET", h="UNMET,UNMET")
    answer(evaluation, B, "t3", cost=0.05, latency=4.0, a="UNMET,UNMET", b="UNMET,UNMET", h="UNMET,UNMET")
    return evaluation


def system(report, label):
    return next(s for s in report.systems if s.system == label)


def score(report, label, task_id):
    return next(r.score for r in report.tasks if r.system == label and r.task_id == task_id)


def test_task_scores_average_the_passes_and_a_failed_answer_scores_zero(graded) -> None:
    report = build_report(graded)
    assert score(report, A, "t1") == 100
    assert score(report, A, "t2") == 75
    assert score(report, A, "t3") == 0
    assert system(report, A).failed == 1
    assert system(report, A).mean == pytest.approx(175 / 3)


def test_a_grading_error_is_left_out_of_the_score_and_counted(graded) -> None:
    report = build_report(graded)
    # Read as UNMET, pass 1 would score 50 and the task 75.
    assert score(report, B, "t2") == 100
    assert system(report, B).grade_errors == 1
    assert system(report, A).grade_errors == 0
    assert any("1 grading call(s) kept failing" in note for note in report.notes)


def test_cost_per_accepted_answer_divides_the_answering_cost_by_the_tasks_at_the_threshold(graded) -> None:
    report = build_report(graded)
    # A: 100 and 75 accepted at 70; the failed answer's cost counts too.
    assert system(report, A).accepted == 2
    assert system(report, A).cost_usd == pytest.approx(0.06)
    assert system(report, A).cost_per_accepted == pytest.approx(0.03)
    assert system(report, B).accepted == 1
    assert system(report, B).cost_per_accepted == pytest.approx(0.15)
    # Grading is counted apart: 12 grades for A, 18 for B, each costing 0.001.
    assert report.grading_cost_usd == pytest.approx(0.001 * 30)
    assert system(report, B).grading_cost_usd == pytest.approx(0.001 * 18)


def test_a_task_scoring_exactly_the_threshold_is_accepted(graded) -> None:
    graded.threshold = 75.0
    assert system(build_report(graded), A).accepted == 2


def test_no_accepted_answer_gives_no_cost_per_accepted_answer(graded) -> None:
    graded.threshold = 100.5
    report = build_report(graded)
    assert system(report, A).accepted == 0
    assert system(report, A).cost_per_accepted is None
    assert "—" in report_html(report)


def test_harmful_rate_pass_rate_and_judge_noise_by_hand(graded) -> None:
    report = build_report(graded)
    b = system(report, B)
    # Negative criteria graded: t1 twice MET, t2 and t3 twice UNMET each.
    assert b.harmful_rate == pytest.approx(2 / 6)
    assert b.harmful_errors == 2
    assert system(report, A).harmful_rate == 0
    # B passed: t1 a,a (h MET, b UNMET: not); t2 a,a,b,h,h (the error left out); t3 h,h.
    assert b.pass_rate == pytest.approx(9 / 17)
    # A's t2: b disagrees between passes, 1 of 3 criteria; t1: none.
    assert system(report, A).judge_noise == pytest.approx((0 + 1 / 3) / 2)


def test_domain_and_axis_means(graded) -> None:
    a = system(build_report(graded), A)
    assert a.domains == {"history": pytest.approx(37.5), "science": 100}
    # completeness: t1 100, t2 (0 + 100) / 2; accuracy: a met everywhere, h avoided.
    assert a.axes == {"accuracy": 100, "completeness": 75}


def test_latency_mean_median_and_95th_percentile(graded) -> None:
    a = system(build_report(graded), A)
    assert (a.latency_mean, a.latency_p50) == (2.0, 2.0)
    assert a.latency_p95 == pytest.approx(2.9)
    assert (a.prompt_tokens, a.completion_tokens) == (300, 150)


def test_paired_comparison_counts_wins_losses_and_ties(graded) -> None:
    (comparison,) = build_report(graded).comparisons
    assert (comparison.a, comparison.b, comparison.tasks) == (A, B, 3)
    # t1 100 − 0, t2 75 − 100, t3 0 − 0.
    assert comparison.difference == pytest.approx(25)
    assert (comparison.wins, comparison.losses, comparison.ties) == (1, 1, 1)
    assert comparison.share_won == pytest.approx(1 / 3)
    assert comparison.low is not None and comparison.low <= 0 <= (comparison.high or 0)
    assert any("includes zero" in warning for warning in comparison.warnings)
    assert any("only 3 tasks" in warning for warning in comparison.warnings)


def test_the_same_seed_gives_the_same_intervals(graded) -> None:
    first, second = build_report(graded), build_report(graded)
    assert [(s.low, s.high) for s in first.systems] == [(s.low, s.high) for s in second.systems]
    assert first.comparisons[0].low == second.comparisons[0].low
    assert report_json(first) == report_json(second)
    a = system(first, A)
    assert a.low is not None and a.high is not None and a.low < a.mean < a.high  # type: ignore[operator]


def test_a_partial_evaluation_says_what_is_missing(evaluation) -> None:
    evaluation.status = Evaluation.Status.CAPPED
    evaluation.max_cost = 0.5
    answer(evaluation, A, "t1", cost=0.01, latency=1.0, a="MET,MET", b="MET,MET", h="UNMET,UNMET")
    answer(evaluation, A, "t2", cost=0.01, latency=1.0, a="MET,MET")
    report = build_report(evaluation)
    assert report.partial
    assert (report.answers_missing, report.grades_missing) == (4, 4)
    assert system(report, A).tasks == 2
    assert system(report, B).mean is None
    (note,) = [note for note in report.notes if note.startswith("PARTIAL")]
    assert "cost cap ($0.50)" in note and "4 answer(s) and 4 grade(s)" in note


def test_a_self_graded_system_is_said_loudly(graded) -> None:
    graded.self_graded = [B]
    graded.allow_self_grading = True
    report = build_report(graded)
    assert system(report, B).self_graded and not system(report, A).self_graded
    assert any(note.startswith("SELF-GRADED") and B in note for note in report.notes)
    assert "(self-graded)" in report_html(report)


def test_each_task_carries_every_verdict_with_its_reason_and_error(graded) -> None:
    row = next(r for r in build_report(graded).tasks if r.system == B and r.task_id == "t2")
    b = next(c for c in row.criteria if c.criterion == "b")
    assert [(v.verdict, v.error) for v in b.verdicts] == [(None, "grader timed out"), ("MET", "")]
    assert b.verdicts[1].reason == "b judged MET"
    assert row.text == "An answer."


def test_results_csv_has_one_row_per_system_and_task_with_the_issues_columns(graded) -> None:
    rows = list(csv.DictReader(io.StringIO(results_csv(build_report(graded)))))
    assert len(rows) == 6
    assert list(rows[0])[:6] == ["system", "task_id", "domain", "score", "cost_usd", "latency_s"]
    assert {"status", "pass_rate", "harmful_errors", "grade_errors", "prompt_tokens", "run_id"} <= set(
        rows[0]
    )
    failed = next(r for r in rows if r["system"] == A and r["task_id"] == "t3")
    assert (failed["score"], failed["status"], failed["domain"], failed["cost_usd"]) == (
        "0.0",
        "failed",
        "history",
        "0.03",
    )


def test_a_spreadsheet_formula_in_a_suite_is_written_as_text(alice) -> None:
    suite = read_suite(suite_text({"=HYPERLINK(1)": "@risk"}))
    row = EvalSuite.of(alice, "formulas", suite)
    row.save()
    evaluation = Evaluation.objects.create(owner=alice, suite=row, systems=[A], grader="model:g", passes=1)
    answer(evaluation, A, "=HYPERLINK(1)", cost=0.0, latency=1.0, a="MET", b="MET", h="UNMET")
    (line,) = list(csv.DictReader(io.StringIO(results_csv(build_report(evaluation)))))
    assert (line["task_id"], line["domain"], line["score"]) == ("'=HYPERLINK(1)", "'@risk", "100.0")


def test_the_html_is_one_file_with_both_plots_and_a_hostile_answer_escaped(graded) -> None:
    EvalAnswer.objects.filter(system=B, task_id="t1").update(text='<script>alert("owned")</script>')
    page = report_html(build_report(graded))
    assert page.count("<svg") == 2
    assert "Score against cost" in page and "Mean score by domain" in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in page
    # Nothing fetched from elsewhere: no script, no outside link, style inline.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert ' style="' not in page
    # And should anything slip through, the file itself forbids scripts and outside requests.
    assert "default-src 'none'" in page


def test_write_outputs_writes_the_three_files(graded, tmp_path) -> None:
    write_outputs(build_report(graded), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.html",
        "report.json",
        "results.csv",
    ]


def test_plots_are_identical_for_the_same_report_and_escape_their_labels(alice) -> None:
    suite = read_suite(suite_text({"t1": "<b>$x$ & y</b>"}))
    row = EvalSuite.of(alice, "hostile", suite)
    row.save()
    evaluation = Evaluation.objects.create(owner=alice, suite=row, systems=[A], grader="model:g", passes=1)
    answer(evaluation, A, "t1", cost=0.0, latency=1.0, a="MET", b="MET", h="UNMET")
    report = build_report(evaluation)
    assert domains_svg(report) == domains_svg(report)
    assert score_cost_svg(report) == score_cost_svg(report)
    svg = domains_svg(report)
    assert "&lt;b&gt;$x$ &amp; y&lt;/b&gt;" in svg
    assert "<b>" not in svg and "<style" not in svg and "style=" not in svg


def test_the_pareto_front_keeps_the_points_nothing_beats_cheapest_first() -> None:
    points = [(1.0, 50.0), (2.0, 80.0), (3.0, 70.0), (0.5, 40.0), (2.0, 60.0), (4.0, 80.0)]
    # (3, 70) is beaten by (2, 80); (2, 60) by (2, 80); (4, 80) by (2, 80).
    assert pareto_front(points) == [3, 0, 1]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 10.0), (1.0, 10.0)]) == [0, 1]
