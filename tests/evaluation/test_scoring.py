"""The scoring formula by hand: the figures a report is made of."""

from __future__ import annotations

import pytest

from chat.evaluation.scoring import (
    Graded,
    axis_scores,
    disagreement,
    errors,
    harmful_rate,
    pass_rate,
    pass_score,
    task_score,
)


def g(weight: int, verdict: str | None, criterion: str = "", axis: str = "general") -> Graded:
    return Graded(criterion=criterion or f"w{weight}", weight=weight, verdict=verdict, axis=axis)  # type: ignore[arg-type]


def test_met_ten_unmet_five_and_an_avoided_error_score_two_thirds() -> None:
    assert pass_score([g(10, "MET"), g(5, "UNMET"), g(-15, "UNMET")]) == pytest.approx(66.67, abs=0.01)


def test_a_harmful_error_alone_with_an_unmet_positive_scores_zero() -> None:
    assert pass_score([g(-15, "MET"), g(10, "UNMET")]) == 0


def test_negative_weights_clamp_at_zero_and_a_perfect_answer_at_a_hundred() -> None:
    assert pass_score([g(10, "MET"), g(-30, "MET")]) == 0
    assert pass_score([g(10, "MET"), g(5, "MET"), g(-15, "UNMET")]) == 100


def test_passes_are_scored_alone_then_averaged() -> None:
    first = [g(10, "MET", "a"), g(10, "UNMET", "b")]  # 50
    second = [g(10, "MET", "a"), g(10, "MET", "b")]  # 100
    third = [g(10, "UNMET", "a"), g(10, "UNMET", "b")]  # 0
    assert task_score([first, second, third]) == pytest.approx(50)


def test_a_failed_grade_is_left_out_and_counted_never_unmet() -> None:
    graded = [g(10, "MET", "a"), g(10, None, "b")]
    assert pass_score(graded) == 100  # b is not counted as unmet
    assert errors([graded]) == 1
    assert pass_score([g(10, None)]) is None


def test_pass_rate_and_harmful_error_rate_by_hand() -> None:
    passes = [
        [g(10, "MET", "a"), g(5, "UNMET", "b"), g(-15, "UNMET", "x"), g(-5, "MET", "y")],
        [g(10, "MET", "a"), g(5, "MET", "b"), g(-15, "MET", "x"), g(-5, "MET", "y")],
    ]
    # passed: a, x (pass 1); a, b (pass 2) → 4 of 8
    assert pass_rate(passes) == 0.5
    # negative met: y (pass 1); x, y (pass 2) → 3 of 4
    assert harmful_rate(passes) == 0.75
    assert harmful_rate([[g(10, "MET")]]) is None


def test_axis_scores_use_the_formula_within_each_axis() -> None:
    graded = [g(10, "MET", "a", "accuracy"), g(10, "UNMET", "b", "accuracy"), g(5, "MET", "c", "style")]
    assert axis_scores([graded]) == {"accuracy": 50, "style": 100}


def test_disagreement_is_the_share_of_criteria_whose_passes_differ() -> None:
    passes = [[g(10, "MET", "a"), g(10, "MET", "b")], [g(10, "MET", "a"), g(10, "UNMET", "b")]]
    assert disagreement(passes) == 0.5
    assert disagreement([[g(10, "MET", "a")]]) is None
