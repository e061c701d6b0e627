"""How a panel judges, on its owner's terms: when to stop waiting for seats, what the judge and
the writer are told, and how each seat samples. One model for the panel, the run, the API and the
terminal: each stores or accepts it as is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What a seat still running when the panel is judged does: goes on and is shown late (its
# answer kept, not judged), or is stopped (what it wrote kept, marked stopped).
LateSeats = Literal["keep", "stop"]
ReasoningEffort = Literal["minimal", "low", "medium", "high"]
REASONING_EFFORTS: tuple[ReasoningEffort, ...] = ("minimal", "low", "medium", "high")

# Instructions are a few sentences ("numbers and dates", "for a ten-year-old"), never a document:
# they go into every judge, writer or seat call of every run of the panel.
MAX_INSTRUCTION_CHARS = 4_000
# A deadline past an hour is no deadline: the provider timeouts end a run long before.
MAX_DEADLINE_S = 3_600
# Judging needs two answers to compare; fewer is the lone-answer case the pipeline already says.
MIN_JUDGED = 2
# Per-seat sampling bounds: what the providers take.
MAX_TEMPERATURE = 2
MAX_SEAT_TOKENS = 200_000
MAX_SEED = 2**31 - 1


class SeatOptions(BaseModel):
    """One seat's sampling: self-fusion needs varied samples (one model, two temperatures)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0, le=MAX_TEMPERATURE)
    reasoning_effort: ReasoningEffort | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_SEAT_TOKENS)
    # Passed on as the request's `seed`; the simulator varies its answer by it.
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)

    @property
    def is_default(self) -> bool:
        return self == SeatOptions()

    def summary(self) -> str:
        """What the seat's column header says, e.g. "temp 0.9 · effort high · max 800 tok"."""
        parts = []
        if self.temperature is not None:
            parts.append(f"temp {self.temperature:g}")
        if self.reasoning_effort is not None:
            parts.append(f"effort {self.reasoning_effort}")
        if self.max_tokens is not None:
            parts.append(f"max {self.max_tokens:,} tok")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return " · ".join(parts)


class RunOptions(BaseModel):
    """A panel's judging terms. Every field's default is the behaviour before these existed:
    wait for every seat, no instructions, the caller's sampling, a judge and a writer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Judge as soon as this many seats have answered.
    quorum: int | None = Field(default=None, ge=MIN_JUDGED, le=8)
    # Judge at this many seconds with whatever has answered (at least two).
    deadline_s: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_S)
    late_seats: LateSeats = "keep"
    # What the judge should scrutinise, how the writer should write, and the seats' system prompt.
    judge_instructions: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)
    writer_instructions: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)
    system_prompt: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)
    # Stream the seats side by side and stop there: no judge, no writer.
    compare_only: bool = False
    # By seat index; a panel with fewer entries than seats samples the rest as the run does.
    seats: list[SeatOptions] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _strip(self) -> RunOptions:
        for name in ("judge_instructions", "writer_instructions", "system_prompt"):
            object.__setattr__(self, name, getattr(self, name).strip())
        return self

    @property
    def cuts_early(self) -> bool:
        """Whether the panel may be judged before every seat has answered."""
        return not self.compare_only and (self.quorum is not None or self.deadline_s is not None)

    def for_seat(self, seat: int) -> SeatOptions:
        return self.seats[seat] if seat < len(self.seats) else SeatOptions()

    def stored(self) -> dict[str, Any]:
        """The JSON a panel or a run keeps: only what differs from the defaults."""
        return self.model_dump(exclude_defaults=True)

    def terms(self) -> str:
        """The waiting terms in words, e.g. "judge at 2 of the seats or at 20 s; late seats go on"."""
        parts = []
        if self.quorum is not None:
            parts.append(f"when {self.quorum} seats have answered")
        if self.deadline_s is not None:
            parts.append(f"at {self.deadline_s:g} s with what has answered")
        if not parts:
            return ""
        late = "late seats go on" if self.late_seats == "keep" else "late seats are stopped"
        return f"Judge {' or '.join(parts)}; {late}."

    def brief(self, seat_count: int) -> str:
        """The waiting terms in a few words, for a panel's one-line lineup: "judge at 2 of 3",
        "judge at 2 of 3 or 20 s"; nothing when the panel waits for every seat."""
        if not self.cuts_early:
            return ""
        parts = []
        if self.quorum is not None:
            parts.append(f"{self.quorum} of {seat_count}")
        if self.deadline_s is not None:
            parts.append(f"{self.deadline_s:g} s")
        return f"judge at {' or '.join(parts)}"
