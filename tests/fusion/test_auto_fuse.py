"""Auto-fuse in the pipeline: one model answers, and consults the panel only when it calls the tool."""

from __future__ import annotations

import json

import pytest

from chat.fusion import consult
from chat.fusion.events import (
    AnalysisReady,
    FusedDelta,
    FusedDone,
    FusedFailed,
    PanelConsulted,
    PanelNotConsulted,
    RunDone,
    RunStarted,
    SeatStarted,
)
from chat.fusion.pipeline import CONSULTED_NOTE, run_fusion
from chat.providers.errors import ProviderError
from chat.providers.types import TextDelta, ToolCallDelta
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer, ending

from .conftest import collect, make_request

THREAD = [
    {"role": "user", "content": "We are twelve engineers."},
    {"role": "assistant", "content": "Noted."},
    {"role": "user", "content": "Monorepo or not?"},
]
QUERY = "For a team of twelve engineers, is a monorepo the right choice?"


def fusion_call(arguments: str, call_id: str = "call_f") -> ToolCallDelta:
    return ToolCallDelta(index=0, id=call_id, name=consult.FUSION_TOOL, arguments=arguments)


def consulting(fake: FakeModelClient, *, preamble: str = "") -> None:
    said = [TextDelta(text=preamble)] if preamble else []
    fake.script("judge/j", [*said, fusion_call(json.dumps({"query": QUERY})), *ending()])
    fake.script("alpha/one", answer("Yes, with tooling."))
    fake.script("beta/two", answer("No, split by team."))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Take the monorepo, with ownership rules."))


@pytest.mark.asyncio
async def test_a_model_that_answers_directly_makes_no_panel_call(fake: FakeModelClient) -> None:
    fake.script("judge/j", answer("Hello to you too."))

    events = await collect(run_fusion(make_request(SEATS[:2], auto=True, messages=THREAD), fake))

    assert [request.model for request in fake.requests] == ["judge/j"]
    offered = fake.requests[0].tools or []
    assert [tool["function"]["name"] for tool in offered] == [consult.FUSION_TOOL]
    assert isinstance(events[0], RunStarted) and events[0].auto
    assert not any(isinstance(event, SeatStarted | PanelConsulted) for event in events)
    assert any(isinstance(event, PanelNotConsulted) for event in events)
    done = next(event for event in events if isinstance(event, FusedDone))
    assert done.text == "Hello to you too."
    assert events[-1] == RunDone(status="done", note="", totals=events[-1].totals)


@pytest.mark.asyncio
async def test_a_call_runs_the_panel_on_the_query_alone_and_the_model_goes_on_from_its_result(
    fake: FakeModelClient,
) -> None:
    consulting(fake, preamble="Let me ask the panel.")

    events = await collect(run_fusion(make_request(SEATS[:2], auto=True, messages=THREAD), fake))

    assert PanelConsulted(model="judge/j", query=QUERY) in events
    # The panel sees the query it was written, never the conversation, and has no tools.
    for seat in ("alpha/one", "beta/two"):
        (asked,) = fake.requests_for(seat)
        assert asked.messages == [{"role": "user", "content": QUERY}]
        assert asked.tools is None
    continuation = fake.requests_for("judge/j")[-1]
    assert continuation.tools is None, "the tool is withdrawn for the continuation"
    assert continuation.messages[: len(THREAD)] == THREAD
    asked_for, told = continuation.messages[len(THREAD) :]
    assert asked_for["tool_calls"][0]["function"]["name"] == consult.FUSION_TOOL
    assert told["role"] == "tool" and told["tool_call_id"] == "call_f"
    assert "untrusted evidence" in told["content"] and "Do not call fusion again" in told["content"]
    result = json.loads(told["content"].split("```json\n", 1)[1].removesuffix("\n```"))
    assert result["status"] == "completed"
    assert [response["model"] for response in result["responses"]] == ["alpha/one", "beta/two"]
    assert result["analysis"]["consensus"][0]["models"][:2] == ["alpha/one", "beta/two"]
    # The answer is what the model said, before and after consulting, in one stream.
    streamed = "".join(event.text for event in events if isinstance(event, FusedDelta))
    done = next(event for event in events if isinstance(event, FusedDone))
    assert done.text == streamed == "Let me ask the panel.\n\nTake the monorepo, with ownership rules."
    assert done.stats.prompt_tokens == 20, "both of the answering model's calls are counted"
    assert events[-1].status == "done"
    assert events[-1].totals.prompt_tokens == 10 * 5  # two answering calls, two seats, the judge


@pytest.mark.asyncio
async def test_unusable_arguments_give_an_error_result_and_no_panel(fake: FakeModelClient) -> None:
    fake.script("judge/j", [fusion_call('{"question": 3}'), *ending()])
    fake.script("judge/j", answer("I will answer myself, then."))

    events = await collect(run_fusion(make_request(SEATS[:2], auto=True), fake))

    assert [request.model for request in fake.requests] == ["judge/j", "judge/j"]
    told = fake.requests[-1].messages[-1]
    assert '"status": "error"' in told["content"] and "query" in told["content"]
    (skipped,) = [event for event in events if isinstance(event, PanelNotConsulted)]
    assert "could not be run" in skipped.reason
    assert (
        next(event for event in events if isinstance(event, FusedDone)).text == "I will answer myself, then."
    )
    assert events[-1].status == "done" and events[-1].note == skipped.reason, "the page says why"


@pytest.mark.asyncio
async def test_a_second_fusion_call_in_the_same_turn_is_answered_but_not_run(fake: FakeModelClient) -> None:
    twice = [
        ToolCallDelta(index=0, id="c1", name="fusion", arguments=json.dumps({"query": QUERY})),
        ToolCallDelta(index=1, id="c2", name="fusion", arguments=json.dumps({"query": "Again?"})),
    ]
    fake.script("judge/j", [*twice, *ending()])
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Done."))

    await collect(run_fusion(make_request(SEATS[:2], auto=True), fake))

    assert len(fake.requests_for("alpha/one")) == 1
    first, second = fake.requests[-1].messages[-2:]
    assert (first["tool_call_id"], second["tool_call_id"]) == ("c1", "c2")
    assert '"status": "completed"' in first["content"]
    assert consult.NOT_AGAIN in second["content"]


@pytest.mark.asyncio
async def test_a_continuation_that_fails_keeps_what_was_said_and_degrades_the_run(
    fake: FakeModelClient,
) -> None:
    consulting(fake, preamble="Asking.")
    fake._scripts["judge/j"].pop()  # the continuation breaks instead
    fake.script("judge/j", [TextDelta(text="Half"), ProviderError("Down.")])

    events = await collect(run_fusion(make_request(SEATS[:2], auto=True), fake))

    failed = next(event for event in events if isinstance(event, FusedFailed))
    assert failed.partial_text == "Asking.\n\nHalf"
    assert events[-1].status == "degraded" and "after the panel was consulted" in events[-1].note


@pytest.mark.asyncio
async def test_a_run_consulted_over_the_api_ends_with_the_analysis(fake: FakeModelClient) -> None:
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))

    events = await collect(run_fusion(make_request(SEATS[:2], write_answer=False), fake))

    assert any(isinstance(event, AnalysisReady) for event in events)
    assert [request.model for request in fake.requests].count("judge/j") == 1, "no writer call"
    assert events[-1].status == "done" and events[-1].note == CONSULTED_NOTE
