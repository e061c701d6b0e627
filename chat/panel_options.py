"""A panel's judging terms (RunOptions) as the builder's form holds them: what was typed, as typed,
so that a wrong value comes back to be corrected, and checked into RunOptions on save."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import QueryDict
from pydantic import ValidationError

from chat.fusion.options import (
    MAX_DEADLINE_S,
    MAX_INSTRUCTION_CHARS,
    MAX_SEAT_TOKENS,
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_JUDGED,
    REASONING_EFFORTS,
    RunOptions,
    SeatOptions,
)

# Each instruction field with the name the builder's messages give it.
INSTRUCTIONS = {
    "judge_instructions": "Judge instructions",
    "writer_instructions": "Writer instructions",
    "system_prompt": "The seats' system prompt",
}
# The per-seat fields, posted once per seat in the seats' order.
SEAT_FIELDS = ("temperature", "reasoning_effort", "max_tokens", "seed")
# What a seat's wrong setting is told, by field.
SEAT_RULES = {
    "temperature": f"temperature is a number from 0 to {MAX_TEMPERATURE}",
    "reasoning_effort": f"effort is one of {', '.join(REASONING_EFFORTS)}",
    "max_tokens": f"max tokens is a whole number from 1 to {MAX_SEAT_TOKENS:,}",
    "seed": f"seed is a whole number from 0 to {MAX_SEED:,}",
}


def _shown(value: float | int | None) -> str:
    """A stored number as the form shows it: 20.0 as "20", 0.9 as "0.9", None as blank."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _parse(raw: str, *, whole: bool) -> float | int:
    return int(raw) if whole else float(raw)


def _number(raw: str, *, whole: bool) -> float | int | None:
    """Blank is None; anything else must parse, or ValueError."""
    raw = raw.strip()
    return _parse(raw, whole=whole) if raw else None


@dataclass
class SeatSettings:
    """One seat's sampling as typed in its settings; blank means the run's own."""

    temperature: str = ""
    reasoning_effort: str = ""
    max_tokens: str = ""
    seed: str = ""

    @classmethod
    def of(cls, options: SeatOptions) -> SeatSettings:
        return cls(
            temperature=_shown(options.temperature),
            reasoning_effort=options.reasoning_effort or "",
            max_tokens=_shown(options.max_tokens),
            seed=_shown(options.seed),
        )

    def checked(self) -> SeatOptions:
        """The settings as SeatOptions, or ValueError with the message the seat shows."""
        values: dict[str, str | float | int] = {}
        problems = []
        for name in SEAT_FIELDS:
            raw = getattr(self, name).strip()
            if not raw:
                continue
            try:
                values[name] = raw if name == "reasoning_effort" else _parse(raw, whole=name != "temperature")
            except ValueError:
                problems.append(SEAT_RULES[name])
        if not problems:
            try:
                return SeatOptions.model_validate(values)
            except ValidationError as error:
                problems = [SEAT_RULES[str(found["loc"][0])] for found in error.errors()]
        message = "; ".join(dict.fromkeys(problems))
        raise ValueError(f"{message[0].upper()}{message[1:]}.")

    def summary(self) -> str:
        """What the seat's closed settings say: its values, or nothing while one is wrong."""
        try:
            return self.checked().summary()
        except ValueError:
            return ""


def seat_settings_from_post(data: QueryDict, count: int) -> list[SeatSettings]:
    """Each seat's settings, posted once per seat in the seats' order; missing ones are blank."""
    columns = {name: data.getlist(name) for name in SEAT_FIELDS}

    def value(name: str, index: int) -> str:
        column = columns[name]
        return column[index].strip() if index < len(column) else ""

    return [SeatSettings(**{name: value(name, index) for name in SEAT_FIELDS}) for index in range(count)]


@dataclass
class Terms:
    """The panel-wide judging terms as typed: when to judge, late seats, instructions, compare only."""

    quorum: str = ""
    deadline_s: str = ""
    late_seats: str = "keep"
    judge_instructions: str = ""
    writer_instructions: str = ""
    system_prompt: str = ""
    compare_only: bool = False
    seats: list[SeatSettings] = field(default_factory=list)

    @classmethod
    def from_post(cls, data: QueryDict, seat_count: int) -> Terms:
        return cls(
            quorum=data.get("quorum", "").strip(),
            deadline_s=data.get("deadline_s", "").strip(),
            late_seats="stop" if data.get("late_seats") == "stop" else "keep",
            # Kept as typed (line breaks too); RunOptions strips the ends when it is saved.
            judge_instructions=data.get("judge_instructions", ""),
            writer_instructions=data.get("writer_instructions", ""),
            system_prompt=data.get("system_prompt", ""),
            compare_only=data.get("compare_only") in ("on", "true", "1"),
            seats=seat_settings_from_post(data, seat_count),
        )

    @classmethod
    def of(cls, options: RunOptions, seat_count: int) -> Terms:
        return cls(
            quorum=_shown(options.quorum),
            deadline_s=_shown(options.deadline_s),
            late_seats=options.late_seats,
            judge_instructions=options.judge_instructions,
            writer_instructions=options.writer_instructions,
            system_prompt=options.system_prompt,
            compare_only=options.compare_only,
            seats=[SeatSettings.of(options.for_seat(index)) for index in range(seat_count)],
        )

    @property
    def cuts_early(self) -> bool:
        """Whether a quorum or a deadline is filled in: the builder then warns about it."""
        return bool(self.quorum or self.deadline_s) and not self.compare_only

    @property
    def has_waiting_terms(self) -> bool:
        return bool(self.quorum or self.deadline_s or self.late_seats != "keep")

    @property
    def has_instructions(self) -> bool:
        return any(getattr(self, name).strip() for name in INSTRUCTIONS)

    def checked(self, seat_count: int, errors: dict[str, str]) -> RunOptions | None:
        """The terms as RunOptions; None, with a message per control in `errors`, when one is wrong."""
        before = len(errors)
        quorum = self._quorum(seat_count, errors)
        deadline = self._deadline(errors)
        for name, label in INSTRUCTIONS.items():
            length = len(getattr(self, name).strip())
            if length > MAX_INSTRUCTION_CHARS:
                errors[name] = (
                    f"{label} have at most {MAX_INSTRUCTION_CHARS:,} characters (these have {length:,})."
                    if name != "system_prompt"
                    else f"{label} has at most {MAX_INSTRUCTION_CHARS:,} characters (it has {length:,})."
                )
        seats = []
        for index, settings in enumerate(self.seats):
            try:
                seats.append(settings.checked())
            except ValueError as error:
                errors[f"seat_settings_{index}"] = f"Seat {index + 1}: {error}"
        if len(errors) > before:
            return None
        # Seats after the last one with settings sample as the run does: no entry for them.
        while seats and seats[-1].is_default:
            seats.pop()
        try:
            return RunOptions(
                quorum=quorum,
                deadline_s=deadline,
                late_seats="stop" if self.late_seats == "stop" else "keep",
                judge_instructions=self.judge_instructions,
                writer_instructions=self.writer_instructions,
                system_prompt=self.system_prompt,
                compare_only=self.compare_only,
                seats=seats,
            )
        except ValidationError as error:  # every bound is checked above: this is a bug, say it
            errors["terms"] = f"These judging terms are not valid: {error.errors()[0]['msg']}."
            return None

    def _quorum(self, seat_count: int, errors: dict[str, str]) -> int | None:
        try:
            quorum = _number(self.quorum, whole=True)
        except ValueError:
            errors["quorum"] = "Judge when K seats have answered: K is a whole number, like 2."
            return None
        if quorum is None:
            return None
        if quorum < MIN_JUDGED:
            errors["quorum"] = f"Judge when K seats have answered: K is at least {MIN_JUDGED}."
        elif quorum > seat_count:
            errors["quorum"] = (
                f"Judge when {quorum} of {seat_count} seats have answered: the panel has only "
                f"{seat_count} seats, so {quorum} can never answer. Lower it, or add seats."
            )
        return int(quorum)

    def _deadline(self, errors: dict[str, str]) -> float | None:
        try:
            deadline = _number(self.deadline_s, whole=False)
        except ValueError:
            deadline = None
            errors["deadline_s"] = "Judge at D seconds: D is a number of seconds, like 20."
        if deadline is not None and not 0 < deadline <= MAX_DEADLINE_S:
            errors["deadline_s"] = f"Judge at D seconds: D is more than 0 and at most {MAX_DEADLINE_S:,}."
        return deadline
