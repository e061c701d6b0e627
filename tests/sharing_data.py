"""Saved conversations for the sharing and export tests, built row by row as runs leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chat.fusion.analysis import (
    Analysis,
    ConsensusPoint,
    Contradiction,
    CoveragePoint,
    Stance,
    UniqueInsight,
)
from chat.fusion.events import CallStats
from chat.models import Conversation, Run, SeatAnswer, Turn

SEATS = ["alpha/one", "beta/two", "gamma/three"]
JUDGE = "judge/j"
WRITER = "writer/w"
PROMPT = "How should a team plan a database migration?"
FOLLOW_UP = "And how do we roll it back?"
FUSED = "Plan in **small steps**, rehearse on a copy, and keep a tested rollback."
START = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)

ANALYSIS = Analysis(
    consensus=[ConsensusPoint(point="Rehearse the migration on a copy first.", seats=[0, 2])],
    contradictions=[
        Contradiction(
            topic="Downtime",
            stances=[Stance(seat=0, stance="Accept a short window."), Stance(seat=2, stance="Avoid any.")],
            assessment="Seat 3 is right for a public service.",
        )
    ],
    partial_coverage=[CoveragePoint(point="Back up before starting.", seats=[0])],
    unique_insights=[UniqueInsight(seat=2, insight="Use expand and contract.", why_it_matters="No lock.")],
    blind_spots=["Nobody mentioned testing the restore."],
)


def stats(model: str, cost: float) -> dict[str, Any]:
    return CallStats(
        model=model, prompt_tokens=120, completion_tokens=80, cost=cost, ttft_ms=350.5, duration_ms=2100.25
    ).model_dump()


def add_turn(conversation: Conversation, position: int, prompt: str) -> Turn:
    turn = Turn.objects.create(conversation=conversation, position=position, prompt=prompt)
    Turn.objects.filter(pk=turn.pk).update(created_at=START + timedelta(minutes=position))
    turn.refresh_from_db()
    return turn


def add_run(
    turn: Turn,
    *,
    status: str = Run.Status.DONE,
    texts: list[str] | None = None,
    failed_seat: int | None = None,
    analysis: bool = True,
    fused: str = FUSED,
    retry_of: Run | None = None,
) -> Run:
    """A run of the three-seat panel, finished unless a status says otherwise."""
    running = status == Run.Status.RUNNING
    run = Run.objects.create(
        turn=turn,
        panel_name="Test panel",
        judge=JUDGE,
        writer=WRITER,
        status=status,
        stage=Run.Stage.PANEL if running else Run.Stage.FINISHED,
        note="One seat failed: the run went on without it." if failed_seat is not None else "",
        retry_of=retry_of,
        analysis=ANALYSIS.model_dump() if analysis and not running else None,
        analysis_error="" if analysis or running else "The judge's reply was not valid JSON.",
        analysis_stats=stats(JUDGE, 0.0021) if not running else None,
        fused_text="" if running else fused,
        fused_stats=stats(WRITER, 0.0033) if not running else None,
        prompt_tokens=0 if running else 600,
        completion_tokens=0 if running else 400,
        cost=None if running else 0.0125,
        duration_ms=None if running else 9100.5,
        finished_at=None if running else START + timedelta(seconds=40),
    )
    texts = texts or [f"Answer of {model}: rehearse, then migrate." for model in SEATS]
    for index, model in enumerate(SEATS):
        failed = index == failed_seat
        SeatAnswer.objects.create(
            run=run,
            index=index,
            model=model,
            status=(
                SeatAnswer.Status.WRITING
                if running
                else SeatAnswer.Status.FAILED
                if failed
                else SeatAnswer.Status.DONE
            ),
            text="" if failed else texts[index],
            reasoning="Thinking it through." if index == 0 else "",
            error="The model is overloaded (HTTP 529)." if failed else "",
            prompt_tokens=0 if failed or running else 100,
            completion_tokens=0 if failed or running else 50 + index,
            cost=None if failed or running else 0.001 * (index + 1),
            ttft_ms=None if failed or running else 300.0 + index,
            duration_ms=None if running else 1500.75 + index,
            reused=retry_of is not None and not failed,
        )
    return run


def build_conversation(owner: Any) -> Conversation:
    """Two turns: the first with a failed seat and a retry as its alternative, the second without an
    analysis."""
    conversation = Conversation.objects.create(owner=owner, title="Plan a database migration")
    first = add_turn(conversation, 0, PROMPT)
    failed = add_run(first, status=Run.Status.DEGRADED, failed_seat=1)
    add_run(first, retry_of=failed)
    second = add_turn(conversation, 1, FOLLOW_UP)
    add_run(second, analysis=False, fused="Keep the old schema until the new one is proven.")
    return conversation
