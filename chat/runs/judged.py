"""What a run was judged on when its quorum or deadline let the judge start before every seat:
the one sentence the run's page, the seats' columns and the Re-fuse action all read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from chat.fusion.seats import LATE_STOPPED_REASON
from chat.models import Run, SeatAnswer
from chat.runs.creation import KEPT_STATUSES

Cause = Literal["quorum", "deadline"]
# A seat's answer that is there to read and to judge (a cut-short one included).
ANSWERED = KEPT_STATUSES


def answered_later_s(run: Run, answer: SeatAnswer) -> float | None:
    """How long after the panel was judged a late seat answered (its duration runs from the
    run's start, as the judging time does); None for a seat that is not late or has not answered."""
    if not answer.late or run.judged_at_ms is None or answer.duration_ms is None:
        return None
    if answer.status not in ANSWERED:
        return None
    return max(answer.duration_ms - run.judged_at_ms, 0.0) / 1000


def cause_of(run: Run, judged: int) -> Cause:
    """Why the judge started early: the quorum when it was met, else the deadline."""
    quorum = run.run_options.quorum
    return "quorum" if quorum is not None and judged >= quorum else "deadline"


def late_state(run: Run, answer: SeatAnswer, cause: Cause) -> str:
    """A late seat in a few words: "answered 14 s later", "stopped at the quorum", "still answering"."""
    later = answered_later_s(run, answer)
    if later is not None:
        return f"answered {later:.0f} s later"
    if answer.status in ANSWERED:
        return "answered later"  # when the run did not keep its judging time (an imported one)
    if stopped_late(answer):
        return f"stopped at the {cause}"
    if answer.status == SeatAnswer.Status.STOPPED:
        return "stopped"
    if answer.status in SeatAnswer.UNFINISHED:
        return "still answering" if run.is_running else "did not finish"
    return "failed later"


def stopped_late(answer: SeatAnswer) -> bool:
    """Whether the panel's terms stopped the seat when it was judged (not its owner, not a fault)."""
    return answer.late and answer.status == SeatAnswer.Status.STOPPED and answer.error == LATE_STOPPED_REASON


def judged_count(answers: Iterable[SeatAnswer]) -> int:
    """How many seats the judge read: those that answered before it started (not late)."""
    return sum(1 for answer in answers if not answer.late and answer.status in ANSWERED)


@dataclass(frozen=True)
class JudgedOn:
    """A run judged before every seat answered: how many it was judged on, of how many, and each
    late seat's model and what became of it."""

    judged: int
    total: int
    cause: Cause
    late: list[tuple[SeatAnswer, str]]

    @property
    def line(self) -> str:
        """The line above the analysis: "Judged on 2 of 3 seats at its quorum; deepseek/deepseek-v4-pro
        answered 14 s later"."""
        lates = ", ".join(f"{answer.model} {state}" for answer, state in self.late)
        return f"Judged on {self.judged} of {self.total} seats at its {self.cause}; {lates}"

    @property
    def late_answered(self) -> bool:
        """Whether a late seat's answer is there to fuse with the others (Re-fuse with all answers)."""
        return any(answer.status in ANSWERED for answer, _ in self.late)


def judged_on(run: Run, answers: Iterable[SeatAnswer]) -> JudgedOn | None:
    """What the run was judged on, or None when it waited for every seat (or judged nothing)."""
    answers = list(answers)
    late = [answer for answer in answers if answer.late]
    if run.judged_at_ms is None or not late:
        return None
    judged = judged_count(answers)
    cause = cause_of(run, judged)
    return JudgedOn(
        judged=judged,
        total=len(answers),
        cause=cause,
        late=[(answer, late_state(run, answer, cause)) for answer in late],
    )


def seat_late_state(run: Run, answer: SeatAnswer, answers: Iterable[SeatAnswer]) -> str:
    """What a seat's column says of it being late, or "" for a seat the judge read."""
    if not answer.late:
        return ""
    return late_state(run, answer, cause_of(run, judged_count(answers)))


def late_note(run: Run, answer: SeatAnswer, answers: Iterable[SeatAnswer]) -> str:
    """The sentence a late seat's column opens with: what became of it, and that it was not judged."""
    state = seat_late_state(run, answer, answers)
    if stopped_late(answer):
        return f"{state.capitalize()}: the panel was judged without it."
    if answer.status in SeatAnswer.UNFINISHED and run.is_running:
        return f"Late: {state}. The judge started without this answer."
    return f"Late: {state}. This answer was not judged."
