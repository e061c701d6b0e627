"""The judge's structured analysis, attributed to seats (0-based indexes into the panel), as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class _Point(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsensusPoint(_Point):
    point: str
    seats: list[int]


class Stance(_Point):
    seat: int
    stance: str


class Contradiction(_Point):
    topic: str
    stances: list[Stance]
    assessment: str


class CoveragePoint(_Point):
    point: str
    seats: list[int]


class UniqueInsight(_Point):
    seat: int
    insight: str
    why_it_matters: str


class Analysis(_Point):
    consensus: list[ConsensusPoint]
    contradictions: list[Contradiction]
    partial_coverage: list[CoveragePoint]
    unique_insights: list[UniqueInsight]
    blind_spots: list[str]


@dataclass(frozen=True)
class Wording:
    """The words one reader of the analysis gets; the sections, their order and layout are shared.

    Two readers need different words: the writer model sees the responses by the letters the judge
    used and must learn no model's name, so "(Response A, Response C)" and spelled-out labels; a
    person reading the export sees "Seat 1 (alpha/one)", whose own parentheses call for a dash.
    """

    heading: str  # the Markdown heading of a section: "##", deeper where the analysis is nested
    held_by: str  # a point and who holds it, from "{point}" and "{seats}"
    insight: str  # from "{seat}", "{insight}" and "{why}"
    assessment: str  # what the judge's settling of a contradiction is called
    nobody: str  # in place of the seats when the judge tied a point to none


def analysis_markdown(analysis: Analysis, name: Callable[[int], str], wording: Wording) -> str:
    """The analysis as Markdown, one section after another, naming seats with `name`."""

    def names(seats: Sequence[int]) -> str:
        return ", ".join(name(seat) for seat in seats) or wording.nobody

    def held(point: str, seats: Sequence[int]) -> str:
        return "- " + wording.held_by.format(point=point, seats=names(seats))

    sections = {
        "Consensus": [held(c.point, c.seats) for c in analysis.consensus],
        "Contradictions": [
            "\n".join(
                [f"- {c.topic}"]
                + [f"  - {name(s.seat)}: {s.stance}" for s in c.stances]
                + [f"  - {wording.assessment}: {c.assessment}"]
            )
            for c in analysis.contradictions
        ],
        "Partial coverage": [held(p.point, p.seats) for p in analysis.partial_coverage],
        "Unique insights": [
            "- " + wording.insight.format(seat=name(u.seat), insight=u.insight, why=u.why_it_matters)
            for u in analysis.unique_insights
        ],
        "Blind spots": [f"- {spot}" for spot in analysis.blind_spots],
    }
    return "\n\n".join(
        f"{wording.heading} {title}\n" + ("\n".join(lines) or "None.") for title, lines in sections.items()
    )
