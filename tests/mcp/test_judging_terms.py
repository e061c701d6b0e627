"""The `fuse` tool's judging terms, through the official SDK's client, over stdio and HTTP."""

from __future__ import annotations

import pytest

from chat.models import Run
from tests.mcp.conftest import call

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Why is the sky blue?"
SLOW = "deepseek/deepseek-v4-pro"  # the Budget panel's third seat, held back by the simulator
JUDGE = "google/gemini-3-flash-preview"


def test_fuse_judges_at_its_quorum_with_the_judges_instructions(connect, alice, sim):
    sim.hold(SLOW)
    before = len(sim.requests)
    terms = {"quorum": 2, "late_seats": "stop", "judge_instructions": "Check every date."}

    result = call(connect, "fuse", {"question": QUESTION, "panel": "budget", **terms})

    assert not result.is_error
    report = result.structured_content
    assert report["status"] == "done" and report["answer"]
    assert (report["judged_on"]["late"], report["judged_on"]["cause"]) == ([SLOW], "quorum")
    assert [seat.get("late", False) for seat in report["seats"]] == [False, False, True]
    judge = next(r for r in sim.requests[before:] if r.model == JUDGE and "response_format" in r.body)
    assert "Check every date." in str(judge.body["messages"])
    run = Run.objects.get(pk=report["run_id"])
    assert (run.run_options.quorum, run.run_options.late_seats) == (2, "stop")
    assert run.answers.get(index=2).late


def test_fuse_gives_each_seat_its_own_settings(connect, alice, sim):
    before = len(sim.requests)
    settings = [{"temperature": 0.2}, {"temperature": 1.4, "seed": 3}]

    result = call(connect, "fuse", {"question": QUESTION, "panel": "budget", "seat_settings": settings})

    assert not result.is_error
    seats = {r.seat: r.body for r in sim.requests[before:] if r.seat is not None}
    assert (seats[0]["temperature"], seats[1]["temperature"], seats[1]["seed"]) == (0.2, 1.4, 3)


@pytest.mark.parametrize(
    ("terms", "named"),
    [
        ({"quorum": 4}, "quorum: the panel has 3 seats"),
        ({"deadline": 0}, "deadline: Input should be greater than 0"),
        ({"judge_instructions": "x" * 4001}, "judge_instructions: String should have at most 4000"),
    ],
)
def test_a_bad_term_is_a_tool_error_naming_it_and_starts_nothing(connect, alice, terms, named):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "budget", **terms})

    assert result.is_error and named in result.content[0].text
    assert not Run.objects.exists()
