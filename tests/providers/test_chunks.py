"""Reading chat.completion.chunk payloads into StreamEvents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from chat.fusion.calls import cost_of_call
from chat.providers.chunks import ChunkReader
from chat.providers.errors import ProviderError
from chat.providers.types import ModelInfo, ReasoningDelta, TextDelta, ToolCallDelta, Usage, UsageReport


def chunk(delta: dict[str, Any] | None = None, finish_reason: str | None = None, **extra: Any) -> str:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish_reason}
    return json.dumps({"id": "gen-1", "object": "chat.completion.chunk", "choices": [choice], **extra})


def test_it_reads_content_as_a_text_delta() -> None:
    assert ChunkReader().read(chunk({"content": "Hello"})) == [TextDelta(text="Hello")]


def test_it_reads_openrouters_reasoning_as_a_reasoning_delta() -> None:
    assert ChunkReader().read(chunk({"reasoning": "Let me think"})) == [ReasoningDelta(text="Let me think")]


def test_it_reads_deepseeks_reasoning_content_as_a_reasoning_delta() -> None:
    events = ChunkReader().read(chunk({"reasoning_content": "Step one"}))

    assert events == [ReasoningDelta(text="Step one")]


def test_it_does_not_double_reasoning_sent_under_both_names() -> None:
    events = ChunkReader().read(chunk({"reasoning": "same", "reasoning_content": "same"}))

    assert events == [ReasoningDelta(text="same")]


def test_it_puts_reasoning_before_text_from_the_same_chunk() -> None:
    events = ChunkReader().read(chunk({"reasoning": "hmm", "content": "Yes"}))

    assert events == [ReasoningDelta(text="hmm"), TextDelta(text="Yes")]


def test_it_yields_nothing_for_a_role_only_first_chunk() -> None:
    assert ChunkReader().read(chunk({"role": "assistant", "content": ""})) == []


def test_it_reads_each_tool_call_fragment_as_a_tool_call_delta() -> None:
    reader = ChunkReader()
    opening = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "web_search"}}
    continuation = {"index": 0, "function": {"arguments": '{"q": '}}

    first = reader.read(chunk({"tool_calls": [opening]}))
    second = reader.read(chunk({"tool_calls": [continuation]}))

    assert first == [ToolCallDelta(index=0, id="call_1", name="web_search", arguments="")]
    assert second == [ToolCallDelta(index=0, arguments='{"q": ')]


def test_it_reads_parallel_tool_calls_of_one_chunk_in_order() -> None:
    calls = [
        {"index": 0, "id": "a", "function": {"name": "web_search", "arguments": "{}"}},
        {"index": 1, "id": "b", "function": {"name": "web_fetch", "arguments": "{}"}},
    ]

    events = ChunkReader().read(chunk({"tool_calls": calls}))

    assert [e.index for e in events if isinstance(e, ToolCallDelta)] == [0, 1]


def test_it_numbers_tool_calls_by_position_when_the_index_is_missing() -> None:
    calls = [
        {"id": "a", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "function": {"name": "g"}},
    ]

    events = ChunkReader().read(chunk({"tool_calls": calls}))

    assert [(e.index, e.id) for e in events if isinstance(e, ToolCallDelta)] == [(0, "a"), (1, "b")]


def test_it_remembers_the_finish_reason() -> None:
    reader = ChunkReader()
    reader.read(chunk({"content": "Hi"}, finish_reason="stop"))

    assert reader.finish_reason == "stop"


def test_a_later_chunk_without_finish_reason_does_not_erase_it() -> None:
    reader = ChunkReader()
    reader.read(chunk({}, finish_reason="length"))
    reader.read(json.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}))

    assert reader.finish_reason == "length"


def test_it_reports_usage_with_openrouters_cost() -> None:
    payload = json.dumps(
        {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30, "cost": 0.00042}}
    )

    events = ChunkReader().read(payload)

    assert events == [UsageReport(usage=Usage(prompt_tokens=12, completion_tokens=30, cost=0.00042))]


def test_it_reports_usage_without_cost_as_unknown_cost() -> None:
    payload = json.dumps(
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
    )

    assert ChunkReader().read(payload) == [UsageReport(usage=Usage(prompt_tokens=5, completion_tokens=7))]


def usage_payload(prompt_tokens: str, completion_tokens: str, cost: str) -> str:
    return (
        f'{{"choices": [], "usage": {{"prompt_tokens": {prompt_tokens}, '
        f'"completion_tokens": {completion_tokens}, "cost": {cost}}}}}'
    )


@pytest.mark.parametrize("cost", ["-0.5", "-1e-9", "NaN", "Infinity", "-Infinity", "1e999"])
def test_a_cost_that_cannot_be_true_is_read_as_unknown(cost: str) -> None:
    events = ChunkReader().read(usage_payload("12", "30", cost))

    assert events == [UsageReport(usage=Usage(prompt_tokens=12, completion_tokens=30, cost=None))]


def test_negative_token_counts_are_read_as_unreported() -> None:
    events = ChunkReader().read(usage_payload("-1000", "-5", "0.001"))

    assert events == [UsageReport(usage=Usage(prompt_tokens=0, completion_tokens=0, cost=0.001))]


def test_a_zero_cost_is_a_true_cost() -> None:
    [report] = ChunkReader().read(usage_payload("12", "30", "0"))

    assert isinstance(report, UsageReport) and report.usage.cost == 0


@pytest.mark.parametrize("cost", ["-0.5", "NaN", "Infinity"])
def test_a_call_whose_cost_cannot_be_true_is_priced_from_the_catalog(cost: str) -> None:
    [report] = ChunkReader().read(usage_payload("1000", "500", cost))
    info = ModelInfo(id="m", name="m", endpoint="e", prompt_price=1e-6, completion_price=2e-6)

    assert isinstance(report, UsageReport)
    assert cost_of_call(report.usage, info) == pytest.approx(1000 * 1e-6 + 500 * 2e-6)


@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "cost"])
@pytest.mark.parametrize("value", [-1, float("nan"), float("inf")])
def test_usage_itself_refuses_a_figure_that_cannot_be_true(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        Usage.model_validate({field: value})


def test_it_reports_usage_sent_alongside_the_last_delta_after_it() -> None:
    events = ChunkReader().read(chunk({"content": "!"}, usage={"prompt_tokens": 1, "completion_tokens": 1}))

    assert events == [TextDelta(text="!"), UsageReport(usage=Usage(prompt_tokens=1, completion_tokens=1))]


def test_it_ignores_a_null_usage() -> None:
    assert ChunkReader().read(chunk({"content": "a"}, usage=None)) == [TextDelta(text="a")]


def test_it_marks_the_done_sentinel_and_yields_nothing_for_it() -> None:
    reader = ChunkReader()

    assert reader.read("[DONE]") == []
    assert reader.done


def test_it_is_not_done_before_the_sentinel() -> None:
    reader = ChunkReader()
    reader.read(chunk({"content": "a"}, finish_reason="stop"))

    assert not reader.done


def test_it_ignores_fields_it_does_not_know() -> None:
    payload = chunk({"content": "a", "refusal": None}, system_fingerprint="fp", provider="OpenAI")

    assert ChunkReader().read(payload) == [TextDelta(text="a")]


def test_it_raises_the_providers_message_for_an_in_band_error() -> None:
    payload = chunk(
        {"content": ""},
        finish_reason="error",
        error={"code": "server_error", "message": "Provider disconnected unexpectedly"},
    )

    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert "Provider disconnected unexpectedly" in raised.value.message


def test_an_in_band_server_error_is_retryable() -> None:
    payload = json.dumps({"error": {"code": "server_error", "message": "Upstream failed"}})

    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert raised.value.retryable


def test_an_in_band_error_with_an_http_status_code_takes_that_status() -> None:
    payload = json.dumps({"error": {"code": 502, "message": "Bad gateway upstream"}})

    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert (raised.value.status, raised.value.retryable) == (502, True)


def test_an_in_band_bad_request_is_not_retryable() -> None:
    payload = json.dumps({"error": {"code": 400, "message": "Invalid tool schema"}})

    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert not raised.value.retryable


def test_a_finish_reason_of_error_without_an_error_object_raises() -> None:
    with pytest.raises(ProviderError):
        ChunkReader().read(chunk({"content": ""}, finish_reason="error"))


@pytest.mark.parametrize("payload", ["{not json", "", "data: {}", '{"choices": ['])
def test_a_payload_that_is_not_json_is_a_malformed_event(payload: str) -> None:
    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert raised.value.message == "The provider sent a malformed event that is not JSON."
    assert not raised.value.retryable


@pytest.mark.parametrize(
    "payload",
    [
        "[1, 2]",
        '"text"',
        '{"choices": {"delta": {}}}',
        '{"choices": [{"delta": {"content": 42}}]}',
        '{"choices": [{"delta": {"tool_calls": [{"index": "first"}]}}]}',
        '{"choices": [], "usage": {"prompt_tokens": "many"}}',
    ],
)
def test_a_payload_of_the_wrong_shape_is_a_malformed_event(payload: str) -> None:
    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert raised.value.message == "The provider sent a malformed event that is not a chat-completions chunk."
    assert not raised.value.retryable
