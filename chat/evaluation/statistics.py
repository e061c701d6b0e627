"""Bootstrap intervals over tasks, and paired comparisons of two systems on the same tasks.

Seeded (numpy's default generator), so the same scores and seed give the same intervals: a
report can be reproduced, and compared with a later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 5_000
LEVEL = 0.95
# Below this many tasks an interval is wide and easily moved: the report says so.
SMALL_SUITE = 30


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    @property
    def includes_zero(self) -> bool:
        return self.low <= 0 <= self.high


@dataclass(frozen=True)
class Paired:
    """System A minus system B over the tasks both scored."""

    difference: Interval
    wins: int
    losses: int
    ties: int

    @property
    def share_won(self) -> float:
        return self.wins / self.difference.n if self.difference.n else 0.0

    def warnings(self) -> list[str]:
        said = []
        if self.difference.includes_zero:
            said.append("the interval includes zero: the difference may be chance")
        if self.difference.n < SMALL_SUITE:
            said.append(f"only {self.difference.n} tasks: intervals are wide")
        return said


def bootstrap(
    values: Sequence[float], *, seed: int, resamples: int = RESAMPLES, level: float = LEVEL
) -> Interval:
    """The mean of `values` with its percentile bootstrap interval (resampling tasks)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(mean=float("nan"), low=float("nan"), high=float("nan"), n=0)
    rng = np.random.default_rng(seed)
    means = rng.choice(data, size=(resamples, data.size), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(mean=float(data.mean()), low=float(low), high=float(high), n=int(data.size))


def paired(a: Sequence[float], b: Sequence[float], *, seed: int, resamples: int = RESAMPLES) -> Paired:
    """A − B task by task (the same tasks, in the same order), with the interval of the mean
    difference and how many tasks each won."""
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same tasks on both sides")
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return Paired(
        difference=bootstrap(differences.tolist(), seed=seed, resamples=resamples),
        wins=int((differences > 0).sum()),
        losses=int((differences < 0).sum()),
        ties=int((differences == 0).sum()),
    )
