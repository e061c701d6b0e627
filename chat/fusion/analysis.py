"""The judge's structured analysis, attributed to seats (0-based indexes into the panel)."""

from __future__ import annotations

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
