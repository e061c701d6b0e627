"""What the tools say about a run: the fused answer, the analysis as the API's `fusion` object
gives it, the seats with their status, the run's id and page, the usage; live or from the rows."""

from __future__ import annotations

from typing import Any

from chat.fusion.analysis import Analysis
from chat.mcp.caller import Caller
from chat.models import Run
from chat.runs.outcome import Outcome


def run_url(caller: Caller, run: Run) -> str:
    return caller.url(run.turn.conversation.get_absolute_url())


def seats(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        {
            "model": seat.model,
            "status": seat.status,
            **({"error": seat.error} if seat.error else {}),
            **({"late": True} if seat.late else {}),
        }
        for seat in outcome.seats
    ]


def fused_report(outcome: Outcome, run: Run, url: str) -> dict[str, Any]:
    """A `fuse` call's structured content, from the events of the run it waited for."""
    fusion = outcome.fusion(run_id=run.pk, url=url, include_responses=False)
    return {
        "run_id": run.pk,
        "url": url,
        # In the words of the saved run (get_run): done, degraded, failed, stopped, interrupted.
        "status": outcome.run_status,
        "answer": outcome.content(),
        "analysis": fusion["analysis"],
        "failure_reason": fusion["failure_reason"],
        "note": fusion["note"],
        "seats": seats(outcome),
        "judged_on": fusion["judged_on"],
        "sources": fusion["sources"],
        "judge": outcome.judge,
        "writer": outcome.writer,
        "usage": outcome.usage(),
    }


def saved_report(run: Run, url: str) -> dict[str, Any]:
    """A `get_run` answer, from the run's rows: the same fields as `fuse` gives, with the run's
    saved status (running until it ends). Sync."""
    answers = list(run.answers.order_by("index"))
    # The saved fold of the events, put back into an Outcome so that the answer and the analysis
    # read as `fuse` gives them.
    outcome = Outcome([answer.model for answer in answers], run.judge, run.writer)
    for seat, answer in zip(outcome.seats, answers, strict=True):
        seat.status, seat.text, seat.error = answer.status, answer.text, answer.error
        seat.late = answer.late
    if run.analysis is not None:
        outcome.analysis = Analysis.model_validate(run.analysis)
    outcome.fused = [run.fused_text] if run.fused_text else []
    outcome.fused_failure = run.fused_error or None
    return {
        "run_id": run.pk,
        "url": url,
        "status": run.status,
        "answer": outcome.content(),
        "analysis": outcome.analysis_object(),
        "note": run.note,
        "seats": seats(outcome),
        "judge": run.judge,
        "writer": run.writer,
        "usage": {
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "total_tokens": run.total_tokens,
            "cost": run.cost,
        },
    }
