"""The API's reading of a run's events: status, failure_reason, content and errors (no server)."""

from __future__ import annotations

from chat.fusion.analysis import Analysis, ConsensusPoint, Contradiction, Stance
from chat.fusion.events import (
    AnalysisFailed,
    AnalysisReady,
    CallStats,
    FusedDelta,
    FusedDone,
    FusedFailed,
    RunDone,
    RunTotals,
    SeatDone,
    SeatFailed,
)
from chat.views.api.outcome import Outcome

SEATS = ["alpha/one", "beta/two", "gamma/three"]


def outcome_of(*events) -> Outcome:
    outcome = Outcome(SEATS, "judge/j", "judge/j")
    for event in events:
        outcome.apply(event)
    return outcome


def done(seat: int, text: str = "An answer.") -> SeatDone:
    return SeatDone(
        seat=seat, text=text, stats=CallStats(model=SEATS[seat], prompt_tokens=10, completion_tokens=5)
    )


def failed(seat: int, kind: str | None = "server_error") -> SeatFailed:
    return SeatFailed(seat=seat, reason="It failed.", stats=CallStats(model=SEATS[seat]), kind=kind)


def end(status: str, note: str = "") -> RunDone:
    return RunDone(
        status=status, note=note, totals=RunTotals(prompt_tokens=30, completion_tokens=15, cost=0.5)
    )


def analysis() -> AnalysisReady:
    return AnalysisReady(
        analysis=Analysis(
            consensus=[ConsensusPoint(point="Blue.", seats=[0, 2])],
            contradictions=[
                Contradiction(topic="Why", stances=[Stance(seat=1, stance="Dust.")], assessment="No.")
            ],
            partial_coverage=[],
            unique_insights=[],
            blind_spots=["Sunsets."],
        ),
        stats=CallStats(model="judge/j"),
    )


def test_the_analysis_names_the_seats_by_model():
    fusion = outcome_of(done(0), done(1), done(2), analysis(), end("done")).fusion(
        run_id=1, url="", include_responses=False
    )

    assert fusion["analysis"]["consensus"] == [{"point": "Blue.", "models": ["alpha/one", "gamma/three"]}]
    assert fusion["analysis"]["contradictions"][0]["stances"] == [{"model": "beta/two", "stance": "Dust."}]


def test_a_judge_whose_json_never_parses_is_judge_not_valid_json():
    outcome = outcome_of(
        done(0, "A."),
        done(1, "B."),
        AnalysisFailed(reason="Unusable.", kind="not_valid_json"),
        end("degraded"),
    )

    assert (outcome.status, outcome.failure_reason) == ("degraded", "judge_not_valid_json")
    assert outcome.content() == "## alpha/one\n\nA.\n\n## beta/two\n\nB."


def test_a_failed_seat_is_named_with_the_status_it_stands_for():
    outcome = outcome_of(
        done(0),
        failed(1, "rate_limited"),
        done(2),
        analysis(),
        FusedDone(text="F.", stats=CallStats(model="judge/j")),
        end("done"),
    )

    fusion = outcome.fusion(run_id=1, url="", include_responses=False)
    assert fusion["status"] == "degraded" and fusion["failure_reason"] is None
    assert fusion["failed_models"] == [{"model": "beta/two", "error": "It failed.", "status_code": 429}]
    assert outcome.content() == "F."


def test_every_seat_rate_limited_is_a_429_error():
    outcome = outcome_of(
        *(failed(seat, "rate_limited") for seat in range(3)), end("failed", "Every seat failed.")
    )

    error = outcome.error()
    assert (outcome.status, error.status, error.code, error.retry_after) == ("error", 429, "rate_limited", 1)


def test_every_seat_failing_otherwise_is_all_panels_failed():
    outcome = outcome_of(failed(0), failed(1, "credits"), failed(2), end("failed", "Every seat failed."))

    assert (outcome.error().status, outcome.error().code) == (502, "all_panels_failed")


def test_a_writer_that_fails_after_some_text_is_writer_failed():
    outcome = outcome_of(
        done(0), done(1), analysis(), FusedDelta(text="Half"), FusedFailed(reason="Cut."), end("degraded")
    )

    assert outcome.failure_reason == "writer_failed"
    assert "## alpha/one" in outcome.content()


def test_a_run_stopped_in_the_chatroom_is_an_error_saying_so():
    outcome = outcome_of(done(0))
    outcome.ended_early("stopped", "Stopped by the user.")

    error = outcome.error()
    assert (outcome.status, error.status, error.code, error.message) == (
        "error",
        503,
        "stopped",
        "Stopped by the user.",
    )


def test_the_usage_is_the_runs_totals_with_each_call():
    usage = outcome_of(
        done(0), done(1), analysis(), FusedDone(text="F.", stats=CallStats(model="judge/j")), end("done")
    ).usage()

    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"], usage["cost"]) == (
        30,
        15,
        45,
        0.5,
    )
    assert [call["role"] for call in usage["calls"]] == ["panel", "panel", "judge", "writer"]


def test_a_panel_of_one_is_a_single_response_with_its_answer_as_content():
    outcome = Outcome(["alpha/one"], "judge/j", "judge/j")
    for event in (done(0, "Alone."), end("degraded", "The panel had one seat.")):
        outcome.apply(event)

    assert (outcome.status, outcome.failure_reason) == ("degraded", "single_response")
    assert outcome.content() == "## alpha/one\n\nAlone."
