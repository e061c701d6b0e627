"""The judge's calls inside a run: what it reads, how it is asked, and one repair at most."""

from __future__ import annotations

import json

import pytest

from chat.fusion.events import AnalysisFailed, AnalysisReady, Event, RunDone
from chat.fusion.judge import JudgeConsensus, JudgeInsight, response_format_for_judge
from chat.fusion.pipeline import run_fusion
from chat.providers.errors import ProviderError
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer

from .conftest import collect, make_request, model_info


def script_seats(fake: FakeModelClient, seats: tuple[str, ...] = SEATS) -> None:
    for seat, model in enumerate(seats):
        fake.script(model, answer(f"Answer number {seat}."))


def the(kind: type[Event], events: list[Event]) -> Event:
    [event] = [event for event in events if isinstance(event, kind)]
    return event


@pytest.mark.asyncio
async def test_the_judge_sees_labels_and_never_a_model_name(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    await collect(run_fusion(make_request(SEATS), fake))

    judge_text = json.dumps(fake.requests_for("judge/j")[0].messages)
    assert all(f"Response {label}" in judge_text for label in "ABC")
    assert not any(model in judge_text for model in SEATS)
    assert not any(model.split("/")[0] in judge_text for model in SEATS)


@pytest.mark.asyncio
async def test_labels_skip_failed_seats_and_map_back_to_the_right_seat(fake: FakeModelClient) -> None:
    fake.script("alpha/one", ProviderError("Down."))
    fake.script("beta/two", answer("Beta's view."))
    fake.script("gamma/three", answer("Gamma's view."))
    judged = analysis_json(
        consensus=[JudgeConsensus(point="p", responses=["A", "B"])],
        unique_insights=[JudgeInsight(response="B", insight="i", why_it_matters="w")],
    )
    fake.script("judge/j", answer(judged))
    fake.script("judge/j", answer("Fused."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    judge_text = fake.requests_for("judge/j")[0].messages[-1]["content"]
    assert "--- Response A ---\nBeta's view." in judge_text
    assert "--- Response B ---\nGamma's view." in judge_text
    ready = the(AnalysisReady, events)
    assert isinstance(ready, AnalysisReady)
    assert ready.analysis.consensus[0].seats == [1, 2]
    assert ready.analysis.unique_insights[0].seat == 2


@pytest.mark.asyncio
async def test_a_self_fusion_panel_keeps_its_two_seats_apart(fake: FakeModelClient) -> None:
    fake.script("same/model", answer("First take."))
    fake.script("same/model", answer("Second take."))
    judged = analysis_json(
        consensus=[JudgeConsensus(point="Both say the sky is blue.", responses=["A", "B"])],
        unique_insights=[JudgeInsight(response="B", insight="i", why_it_matters="w")],
    )
    fake.script("judge/j", answer(judged))
    fake.script("judge/j", answer("Fused."))

    events = await collect(run_fusion(make_request(["same/model", "same/model"]), fake))

    judge_text = fake.requests_for("judge/j")[0].messages[-1]["content"]
    assert "Response A ---\nFirst take." in judge_text
    assert "Response B ---\nSecond take." in judge_text
    ready = the(AnalysisReady, events)
    assert isinstance(ready, AnalysisReady)
    assert ready.analysis.consensus[0].seats == [0, 1]
    assert ready.analysis.unique_insights[0].seat == 1


@pytest.mark.asyncio
async def test_a_cut_short_answer_is_marked_for_the_judge(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("Half", complete=False))
    fake.script("beta/two", answer("Whole."))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    await collect(run_fusion(make_request(SEATS[:2]), fake))

    judge_text = fake.requests_for("judge/j")[0].messages[-1]["content"]
    assert "Half\n\n[This response was cut short" in judge_text


@pytest.mark.asyncio
async def test_the_judge_runs_at_temperature_zero(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    await collect(run_fusion(make_request(SEATS), fake))

    assert fake.requests_for("judge/j")[0].temperature == 0


@pytest.mark.asyncio
async def test_structured_output_is_asked_of_a_judge_that_supports_it(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    catalog = {"judge/j": model_info("judge/j", supports_structured_output=True)}

    await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    assert fake.requests_for("judge/j")[0].response_format == response_format_for_judge()


@pytest.mark.asyncio
async def test_structured_output_is_not_asked_of_a_judge_without_it(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    catalog = {"judge/j": model_info("judge/j", supports_structured_output=False)}

    await collect(run_fusion(make_request(SEATS, catalog=catalog), fake))

    assert fake.requests_for("judge/j")[0].response_format is None


@pytest.mark.asyncio
async def test_structured_output_is_not_asked_of_a_judge_missing_from_the_catalog(
    fake: FakeModelClient,
) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    await collect(run_fusion(make_request(SEATS), fake))

    assert fake.requests_for("judge/j")[0].response_format is None


@pytest.mark.asyncio
async def test_a_chatty_fenced_reply_is_read_without_repair(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer(f"Here you go:\n```json\n{analysis_json()}\n```\nAnything else?"))
    fake.script("judge/j", answer("Fused."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert isinstance(the(AnalysisReady, events), AnalysisReady)
    assert fake.requests_for("judge/j")[1].temperature is None  # the second call is the writer's


@pytest.mark.asyncio
async def test_an_unusable_reply_is_repaired_once(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer('{"consensus": oops'))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    ready = the(AnalysisReady, events)
    assert isinstance(ready, AnalysisReady)
    assert ready.repair_stats is not None
    repair = fake.requests_for("judge/j")[1]
    assert repair.messages[-2] == {"role": "assistant", "content": '{"consensus": oops'}
    assert "no JSON object" in repair.messages[-1]["content"]
    assert repair.temperature == 0


@pytest.mark.asyncio
async def test_the_repair_request_names_the_schema_error(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer('{"consensus": []}'))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))

    await collect(run_fusion(make_request(SEATS), fake))

    assert "blind_spots: Field required" in fake.requests_for("judge/j")[1].messages[-1]["content"]


@pytest.mark.asyncio
async def test_after_one_failed_repair_the_judge_gives_up(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer("I think A is best."))
    fake.script("judge/j", answer("Really, A."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert len(fake.requests_for("judge/j")) == 2
    failed = the(AnalysisFailed, events)
    assert isinstance(failed, AnalysisFailed)
    assert failed.reason == (
        "The judge's reply was unusable even after one repair attempt: the reply contains no JSON object."
    )


@pytest.mark.asyncio
async def test_a_judge_provider_error_is_not_repaired(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", ProviderError("Rate limited."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    assert len(fake.requests_for("judge/j")) == 1
    failed = the(AnalysisFailed, events)
    assert isinstance(failed, AnalysisFailed)
    assert failed.reason == "The judge (judge/j) failed: Rate limited."


@pytest.mark.asyncio
async def test_a_failed_repair_call_says_both_problems(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer("no json"))
    fake.script("judge/j", ProviderError("Timed out."))

    events = await collect(run_fusion(make_request(SEATS), fake))

    failed = the(AnalysisFailed, events)
    assert isinstance(failed, AnalysisFailed)
    assert "no JSON object" in failed.reason
    assert "the repair request failed: Timed out." in failed.reason
    assert isinstance(events[-1], RunDone)


@pytest.mark.asyncio
async def test_a_judge_that_never_writes_json_fails_as_not_valid_json(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer("I think A is best."))
    fake.script("judge/j", answer("Really, A."))

    failed = the(AnalysisFailed, await collect(run_fusion(make_request(SEATS), fake)))

    assert isinstance(failed, AnalysisFailed)
    assert failed.kind == "not_valid_json"


@pytest.mark.asyncio
async def test_a_judge_whose_json_lacks_a_section_fails_as_a_schema_mismatch(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", answer('{"consensus": []}'))
    fake.script("judge/j", answer('{"consensus": []}'))

    failed = the(AnalysisFailed, await collect(run_fusion(make_request(SEATS), fake)))

    assert isinstance(failed, AnalysisFailed)
    assert failed.kind == "schema_mismatch"


@pytest.mark.asyncio
async def test_a_judge_provider_error_fails_as_an_upstream_error(fake: FakeModelClient) -> None:
    script_seats(fake)
    fake.script("judge/j", ProviderError("Rate limited."))

    failed = the(AnalysisFailed, await collect(run_fusion(make_request(SEATS), fake)))

    assert isinstance(failed, AnalysisFailed)
    assert failed.kind == "upstream_error"
