"""Bootstrap intervals: reproducible under a seed, around the mean, and paired comparisons."""

from __future__ import annotations

from chat.evaluation.statistics import bootstrap, paired


def test_the_same_seed_gives_the_same_interval_and_another_seed_may_not() -> None:
    scores = [50.0, 60.0, 70.0, 80.0, 90.0, 40.0, 65.0]
    assert bootstrap(scores, seed=7) == bootstrap(scores, seed=7)
    assert bootstrap(scores, seed=7) != bootstrap(scores, seed=8)


def test_the_interval_holds_the_mean_and_narrows_with_agreement() -> None:
    spread = bootstrap([0.0, 100.0] * 10, seed=1)
    tight = bootstrap([49.0, 51.0] * 10, seed=1)
    assert spread.low < spread.mean == 50 < spread.high
    assert tight.high - tight.low < spread.high - spread.low
    assert bootstrap([70.0] * 5, seed=1).low == bootstrap([70.0] * 5, seed=1).high == 70


def test_a_paired_comparison_counts_wins_and_warns_when_it_may_be_chance() -> None:
    fused = [80.0, 70.0, 90.0, 60.0]
    single = [70.0, 75.0, 80.0, 60.0]
    result = paired(fused, single, seed=3)
    assert (result.wins, result.losses, result.ties) == (2, 1, 1)
    assert result.difference.mean == 3.75
    assert result.share_won == 0.5
    assert any("only 4 tasks" in warning for warning in result.warnings())


def test_a_clear_difference_over_many_tasks_excludes_zero() -> None:
    better = [float(80 + i % 5) for i in range(40)]
    worse = [float(60 + i % 5) for i in range(40)]
    result = paired(better, worse, seed=3)
    assert not result.difference.includes_zero and result.warnings() == []
