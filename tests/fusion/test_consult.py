"""What a model is offered and told back when fusion is a tool (chat.fusion.consult)."""

from __future__ import annotations

import json

import pytest

from chat.fusion import consult
from chat.fusion.analysis import Analysis, ConsensusPoint
from chat.fusion.events import AnalysisFailed, CallStats, SeatDone, SeatFailed, Source


def done(seat: int, text: str = "answer", **fields: object) -> SeatDone:
    return SeatDone(seat=seat, text=text, stats=CallStats(model="m"), **fields)  # type: ignore[arg-type]


def failed(seat: int) -> SeatFailed:
    return SeatFailed(seat=seat, reason="Rate limited.", stats=CallStats(model="m"), kind="rate_limited")


ANALYSIS = Analysis(
    consensus=[ConsensusPoint(point="Both agree.", seats=[0, 1])],
    contradictions=[],
    partial_coverage=[],
    unique_insights=[],
    blind_spots=["Cost."],
)


def test_the_offer_tells_the_model_when_to_call_and_to_write_a_self_contained_query() -> None:
    spec = consult.tool_spec()["function"]
    assert spec["name"] == consult.FUSION_TOOL
    assert spec["parameters"]["required"] == ["query"]
    assert "does NOT see this conversation" in spec["description"]
    assert "only where several perspectives genuinely help" in spec["description"]
    assert consult.forced_choice() == {"type": "function", "function": {"name": "fusion"}}


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ('{"query": ""}', "non-empty string"),
        ('{"query": 7}', "non-empty string"),
        ("[1]", "non-empty string"),
        (json.dumps({"query": "x" * (consult.MAX_QUERY_CHARS + 1)}), "the limit is 20,000"),
    ],
)
def test_unusable_arguments_are_refused_with_a_reason_for_the_model(arguments: str, complaint: str) -> None:
    with pytest.raises(consult.BadArguments, match=complaint):
        consult.read_query(arguments)


def test_the_query_is_read_trimmed() -> None:
    assert consult.read_query('{"query": "  Which?  "}') == "Which?"


def test_the_result_is_shaped_like_openrouters_with_models_named() -> None:
    source = Source(title="Docs", url="https://example.com/a")
    result = consult.panel_result(
        "Q?",
        ["alpha/one", "beta/two", "gamma/three"],
        [done(0, sources=[source]), done(1), failed(2)],
        ANALYSIS,
    )
    assert set(result) >= {"status", "analysis", "responses", "failed_models", "failure_reason", "sources"}
    assert result["status"] == "completed" and result["failure_reason"] is None
    assert result["analysis"]["consensus"] == [{"point": "Both agree.", "models": ["alpha/one", "beta/two"]}]
    assert result["failed_models"] == [{"model": "gamma/three", "error": "Rate limited.", "status_code": 429}]
    assert result["sources"] == [{"title": "Docs", "url": "https://example.com/a"}]


def test_a_failed_panel_or_judge_says_why_in_openrouters_terms() -> None:
    nobody = consult.panel_result("Q?", ["a/1", "b/2"], [failed(0), failed(1)], None)
    assert (nobody["status"], nobody["failure_reason"]) == ("error", "all_panels_failed")
    judge = AnalysisFailed(reason="Not JSON.", kind="not_valid_json")
    unjudged = consult.panel_result("Q?", ["a/1", "b/2"], [done(0), done(1)], judge)
    assert (unjudged["status"], unjudged["failure_reason"]) == ("completed", "judge_not_valid_json")
    assert unjudged["analysis"] is None and len(unjudged["responses"]) == 2


def test_a_huge_answer_is_cut_before_it_reaches_the_model() -> None:
    result = consult.panel_result("Q?", ["a/1", "b/2"], [done(0, "x" * 50_000), done(1)], ANALYSIS)
    content = result["responses"][0]["content"]
    assert len(content) < consult.MAX_ANSWER_CHARS + 100 and "50,000 characters" in content


def test_the_tool_message_frames_the_result_as_untrusted_evidence() -> None:
    message = consult.tool_message("call_1", consult.error_result("Bad."))
    assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
    assert message["content"].startswith(consult.RESULT_PREAMBLE)
    assert json.loads(message["content"].split("```json\n")[1].removesuffix("\n```"))["error"] == "Bad."


def test_calls_are_told_apart_by_the_reserved_name() -> None:
    calls = [
        {"id": "1", "name": "fusion", "arguments": "{}"},
        {"id": "2", "name": "get_weather", "arguments": "{}"},
    ]
    split = consult.split_calls(calls)
    assert [call["id"] for call in split.fusion] == ["1"]
    assert [call["id"] for call in split.others] == ["2"]
