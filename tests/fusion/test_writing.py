"""The writer's call: what it reads, what it is never given, and how its answer streams."""

from __future__ import annotations

import pytest

from chat.fusion.analysis import Analysis, ConsensusPoint, Contradiction, Stance, UniqueInsight
from chat.fusion.events import Event, FusedDelta, FusedDone, FusedStarted, RunDone
from chat.fusion.judge import JudgeConsensus
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import Sampling
from chat.fusion.writer import render_analysis
from tests.fakes import FakeModelClient, analysis_json, answer

from .conftest import collect, make_request

SEATS = ("alpha/one", "beta/two")


def script_run(fake: FakeModelClient, fused: str = "The fused answer.") -> None:
    fake.script("alpha/one", answer("Alpha's view."))
    fake.script("beta/two", answer("Beta's view."))
    fake.script(
        "judge/j", answer(analysis_json(consensus=[JudgeConsensus(point="Sky is blue", responses=["A"])]))
    )
    fake.script("writer/w", answer(fused))


@pytest.mark.asyncio
async def test_the_writer_gets_no_tools(fake: FakeModelClient) -> None:
    script_run(fake)

    await collect(run_fusion(make_request(SEATS, writer="writer/w"), fake))

    assert fake.requests_for("writer/w")[0].tools is None


@pytest.mark.asyncio
async def test_the_writer_reads_the_analysis_and_the_labelled_answers(fake: FakeModelClient) -> None:
    script_run(fake)

    await collect(run_fusion(make_request(SEATS, writer="writer/w"), fake))

    prompt = fake.requests_for("writer/w")[0].messages[-1]["content"]
    assert "- Sky is blue (Response A)" in prompt
    assert "--- Response B ---\nBeta's view." in prompt
    assert "Why is the sky blue?" in prompt


@pytest.mark.asyncio
async def test_the_judge_writes_when_no_writer_is_named(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused by the judge."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert FusedStarted(model="judge/j") in events
    assert fake.requests_for("judge/j")[1].response_format is None


@pytest.mark.asyncio
async def test_the_fused_answer_streams_then_is_done(fake: FakeModelClient) -> None:
    script_run(fake, fused="Blue because of Rayleigh.")

    events = await collect(run_fusion(make_request(SEATS, writer="writer/w"), fake))

    fused = events[events.index(FusedStarted(model="writer/w")) :]
    assert "".join(e.text for e in fused if isinstance(e, FusedDelta)) == "Blue because of Rayleigh."
    done, last = fused[-2:]
    assert isinstance(done, FusedDone)
    assert isinstance(last, RunDone)
    assert done.text == "Blue because of Rayleigh."


@pytest.mark.asyncio
async def test_a_whole_run_says_its_stages_in_order(fake: FakeModelClient) -> None:
    script_run(fake)

    events = await collect(run_fusion(make_request(SEATS, writer="writer/w"), fake))

    stages = [e.type for e in events if not e.type.startswith(("seat.", "fused.delta"))]
    assert stages == [
        "run.started",
        "analysis.started",
        "analysis.ready",
        "fused.started",
        "fused.done",
        "run.done",
    ]
    last: Event = events[-1]
    assert isinstance(last, RunDone)
    assert (last.status, last.note) == ("done", "")


def test_the_analysis_renders_with_labels_and_every_section() -> None:
    analysis = Analysis(
        consensus=[ConsensusPoint(point="Shared.", seats=[0, 2])],
        contradictions=[
            Contradiction(
                topic="Colour",
                stances=[Stance(seat=0, stance="Blue"), Stance(seat=2, stance="Green")],
                assessment="Blue is right.",
            )
        ],
        partial_coverage=[],
        unique_insights=[UniqueInsight(seat=2, insight="Ozone.", why_it_matters="Twilight.")],
        blind_spots=["Mars."],
    )

    text = render_analysis(analysis, {0: "A", 2: "B"})

    assert "## Consensus\n- Shared. (Response A, Response B)" in text
    assert (
        "- Colour\n  - Response A: Blue\n  - Response B: Green\n  - Judge's assessment: Blue is right."
        in text
    )
    assert "## Partial coverage\nNone." in text
    assert "- Response B: Ozone. Why it matters: Twilight." in text
    assert "## Blind spots\n- Mars." in text


@pytest.mark.asyncio
async def test_a_callers_sampling_reaches_the_seats_and_the_writer(fake: FakeModelClient) -> None:
    script_run(fake)
    sampling = Sampling(temperature=0.7, max_tokens=300, reasoning={"effort": "low"})

    await collect(run_fusion(make_request(SEATS, writer="writer/w", sampling=sampling), fake))

    for model in ("alpha/one", "writer/w"):
        sent = fake.requests_for(model)[0]
        assert (sent.temperature, sent.max_tokens, sent.reasoning) == (0.7, 300, {"effort": "low"})


@pytest.mark.asyncio
async def test_the_judge_keeps_temperature_zero_and_the_server_token_limit(fake: FakeModelClient) -> None:
    script_run(fake)
    sampling = Sampling(temperature=0.7, max_tokens=300)

    await collect(
        run_fusion(make_request(SEATS, writer="writer/w", sampling=sampling, max_tokens=4000), fake)
    )

    sent = fake.requests_for("judge/j")[0]
    assert (sent.temperature, sent.max_tokens) == (0, 4000)


@pytest.mark.asyncio
async def test_a_caller_cannot_raise_the_server_token_limit(fake: FakeModelClient) -> None:
    script_run(fake)

    await collect(
        run_fusion(
            make_request(SEATS, writer="writer/w", sampling=Sampling(max_tokens=9999), max_tokens=500), fake
        )
    )

    assert fake.requests_for("writer/w")[0].max_tokens == 500
