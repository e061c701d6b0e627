"""How a run ends when seats, the judge or the writer fail: degraded or failed, never silent."""

from __future__ import annotations

import pytest

from chat.fusion.events import (
    AnalysisFailed,
    AnalysisStarted,
    FusedDone,
    FusedFailed,
    FusedStarted,
    RunDone,
    SeatDone,
)
from chat.fusion.pipeline import run_fusion
from chat.providers.errors import ProviderError
from chat.providers.types import TextDelta
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer

from .conftest import collect, make_request


@pytest.mark.asyncio
async def test_when_every_seat_fails_the_run_fails_naming_each_failure(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("Bad key."))
    fake.script("beta/two", ProviderError("Unknown model."))
    fake.script("gamma/three", [TextDelta(text="par"), ProviderError("Connection reset.")])

    events = await collect(run_fusion(make_request(SEATS), fake))

    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "failed"
    assert done.note == (
        "Every seat failed, so there is nothing to judge: seat 1 (alpha/one): Bad key; "
        "seat 2 (beta/two): Unknown model; seat 3 (gamma/three): Connection reset."
    )
    assert fake.requests_for("judge/j") == []


@pytest.mark.asyncio
async def test_failed_seats_are_left_out_and_the_run_goes_on(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("Bad key."))
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", answer("c"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "done"
    assert done.note == "Fused from 2 of 3 answers; seat 1 (alpha/one): Bad key."


@pytest.mark.asyncio
async def test_with_one_answer_the_run_ends_degraded_without_judge_or_writer(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("Bad key."))
    fake.script("beta/two", answer("The only answer."))
    fake.script("gamma/three", ProviderError("Overloaded."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert fake.requests_for("judge/j") == []
    assert not any(isinstance(e, AnalysisStarted | FusedStarted) for e in events)
    assert SeatDone in [type(e) for e in events]
    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "degraded"
    assert done.note.startswith("Only seat 2 (beta/two) answered, so there was nothing to compare")
    assert done.note.endswith(
        "The others failed: seat 1 (alpha/one): Bad key; seat 3 (gamma/three): Overloaded."
    )


@pytest.mark.asyncio
async def test_when_the_judge_fails_the_writer_is_not_called(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", ProviderError("Judge is down."))

    events = await collect(run_fusion(make_request(SEATS[:2], writer="writer/w"), fake))

    assert fake.requests_for("writer/w") == []
    assert isinstance(events[-2], AnalysisFailed)
    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "degraded"
    assert done.note == (
        "The analysis is missing. The judge (judge/j) failed: Judge is down. The panel's answers are above."
    )


@pytest.mark.asyncio
async def test_when_the_writer_fails_its_partial_text_is_kept(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("writer/w", [TextDelta(text="The sky is "), ProviderError("Stream broke.")])

    events = await collect(run_fusion(make_request(SEATS[:2], writer="writer/w"), fake))

    failed = events[-2]
    assert isinstance(failed, FusedFailed)
    assert failed.reason == "Stream broke."
    assert failed.partial_text == "The sky is "
    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "degraded"
    assert (
        done.note == "The fused answer failed: Stream broke. The analysis and the panel's answers are above."
    )


@pytest.mark.asyncio
async def test_a_cut_fused_answer_is_kept_and_the_run_degraded(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("writer/w", answer("The sky is", complete=False))

    events = await collect(run_fusion(make_request(SEATS[:2], writer="writer/w"), fake))

    fused = events[-2]
    assert isinstance(fused, FusedDone)
    assert (fused.text, fused.complete) == ("The sky is", False)
    done = events[-1]
    assert isinstance(done, RunDone)
    assert done.status == "degraded"
    assert done.note.startswith("The fused answer may be cut short")


@pytest.mark.asyncio
async def test_every_run_ends_with_exactly_one_run_done(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("x"))
    fake.script("beta/two", ProviderError("y"))

    events = await collect(run_fusion(make_request(SEATS[:2]), fake))

    assert [type(e) for e in events].count(RunDone) == 1
    assert isinstance(events[-1], RunDone)


@pytest.mark.asyncio
async def test_a_panel_of_one_seat_ends_with_its_answer_and_says_so(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("Alone."))

    events = await collect(run_fusion(make_request(["alpha/one"]), fake))

    done = events[-1]
    assert isinstance(done, RunDone) and done.status == "degraded"
    assert done.note.startswith("The panel had one seat, seat 1 (alpha/one): its answer above is the result")
    assert fake.requests_for("judge/j") == []
