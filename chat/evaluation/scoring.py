"""The scoring formula, as DRACO grades: pure functions over criterion verdicts.

A verdict is MET, UNMET, or an error (the grader kept failing): errors are left out of every
figure and counted apart, never read as UNMET. For a negative criterion (an error the answer
must not make) MET means the answer made it.

    task score   = clamp(Σ weights of MET criteria / Σ positive weights, 0, 1) × 100, per pass,
                   then averaged over passes
    pass rate    = criteria passed (positive MET, negative UNMET) / criteria graded
    harmful rate = negative criteria MET / negative criteria graded
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Literal

type Verdict = Literal["MET", "UNMET"] | None


@dataclass(frozen=True)
class Graded:
    """One criterion's verdict in one pass; `verdict` None when its grading failed."""

    criterion: str
    weight: int
    verdict: Verdict
    axis: str = "general"

    @property
    def met(self) -> bool:
        return self.verdict == "MET"

    @property
    def passed(self) -> bool:
        """A positive criterion met, or a negative one avoided."""
        return self.met if self.weight > 0 else self.verdict == "UNMET"


def pass_score(graded: Iterable[Graded]) -> float | None:
    """One pass's score over the criteria graded; None when none with a positive weight was."""
    counted = [g for g in graded if g.verdict is not None]
    positive = sum(g.weight for g in counted if g.weight > 0)
    if positive == 0:
        return None
    earned = sum(g.weight for g in counted if g.met)
    return min(max(earned / positive, 0.0), 1.0) * 100


def task_score(passes: Sequence[Sequence[Graded]]) -> float | None:
    """The task's score: each pass scored alone, then averaged (passes without a score left out)."""
    scores = [score for score in map(pass_score, passes) if score is not None]
    return fmean(scores) if scores else None


def pass_rate(passes: Sequence[Sequence[Graded]]) -> float | None:
    counted = [g for graded in passes for g in graded if g.verdict is not None]
    return sum(g.passed for g in counted) / len(counted) if counted else None


def harmful_rate(passes: Sequence[Sequence[Graded]]) -> float | None:
    negative = [g for graded in passes for g in graded if g.verdict is not None and g.weight < 0]
    return sum(g.met for g in negative) / len(negative) if negative else None


def errors(passes: Sequence[Sequence[Graded]]) -> int:
    """Grader calls that kept failing: excluded from the figures, and said."""
    return sum(g.verdict is None for graded in passes for g in graded)


def axis_scores(passes: Sequence[Sequence[Graded]]) -> dict[str, float]:
    """The task score within each axis (a rubric section), for axes with a positive criterion."""
    by_axis: defaultdict[str, list[list[Graded]]] = defaultdict(lambda: [[] for _ in passes])
    for number, graded in enumerate(passes):
        for g in graded:
            by_axis[g.axis][number].append(g)
    found = {axis: task_score(axis_passes) for axis, axis_passes in by_axis.items()}
    return {axis: score for axis, score in sorted(found.items()) if score is not None}


def disagreement(passes: Sequence[Sequence[Graded]]) -> float | None:
    """The share of criteria whose passes did not all give the same verdict (judge noise), over
    the criteria graded in at least two passes."""
    verdicts: defaultdict[str, set[str]] = defaultdict(set)
    graded_in: defaultdict[str, int] = defaultdict(int)
    for graded in passes:
        for g in graded:
            if g.verdict is not None:
                verdicts[g.criterion].add(g.verdict)
                graded_in[g.criterion] += 1
    repeated = [criterion for criterion, count in graded_in.items() if count >= 2]
    if not repeated:
        return None
    return sum(len(verdicts[criterion]) > 1 for criterion in repeated) / len(repeated)
