"""Fusion as a server tool: a plain model with tools [{"type": "fusion"}], driven by the official
openai SDK against a live server and the simulator (which calls an offered tool by its tool_use)."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import openai
import pytest

from chat.fusion import consult
from chat.models import ApiCall, ApiToken, Conversation, Run, SpendBudget, Turn
from chat.providers import FUSION_DEPTH_HEADER
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

OUTER = "google/gemini-3-flash-preview"
SEATS = ["moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
FUSION = {"type": "fusion", "parameters": {"analysis_models": SEATS}}
# The simulator's model on tool_use "auto" consults the panel for a real question, not for this.
WORTH_A_PANEL = [{"role": "user", "content": "Which database should a small team pick for analytics?"}]
SIMPLE = [{"role": "user", "content": "What is 2+2?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def run_of(fusion: dict) -> Run:
    """The run that answered, once it has saved its end (the answer goes on before its save)."""
    deadline = time.monotonic() + 10
    while (run := Run.objects.get(pk=fusion["run_id"])).status == Run.Status.RUNNING:
        assert time.monotonic() < deadline, "the run never saved its end"
        time.sleep(0.02)
    return run


def outer_requests(sim, since: int) -> list:
    """The outer model's requests since `since` (it judges the panel too, in structured output)."""
    return [r for r in sim.requests[since:] if r.model == OUTER and "response_format" not in r.body]


def seat_requests(sim, since: int) -> list:
    return [r for r in sim.requests[since:] if r.seat is not None]


def ask(sdk, messages=WORTH_A_PANEL, tools=(FUSION,), **fields):
    return sdk.chat.completions.create(model=OUTER, messages=messages, tools=list(tools), **fields)


def streamed(stream) -> tuple[str, list]:
    chunks = list(stream)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks


def fusion_of(chunks) -> dict:
    return next(c.model_extra["fusion"] for c in chunks if c.model_extra.get("fusion"))


# --- whether the model consults the panel ---------------------------------------------------------


def test_a_model_that_answers_directly_makes_no_panel_call(sdk, sim):
    before = len(sim.requests)

    response = ask(sdk, SIMPLE)

    assert response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.model_extra["fusion"]["invoked"] is False
    assert seat_requests(sim, before) == [] and len(outer_requests(sim, before)) == 1
    assert Run.objects.count() == 0


def test_the_model_is_offered_fusion_as_a_function(sdk, sim):
    before = len(sim.requests)

    ask(sdk, SIMPLE, tools=[WEATHER, FUSION])

    (offered,) = outer_requests(sim, before)
    assert offered.body["tools"] == [WEATHER, consult.tool_spec()]


def test_a_model_that_calls_the_tool_makes_one_run_and_continues_from_its_result(sdk, sim):
    before = len(sim.requests)

    response = ask(sdk)

    fusion = response.model_extra["fusion"]
    (run,) = Run.objects.all()
    assert fusion["invoked"] is True and fusion["run_id"] == run.pk
    assert fusion["query"] == run_of(fusion).turn.prompt == WORTH_A_PANEL[0]["content"]
    assert fusion["status"] == "completed" and fusion["analysis"] is not None
    assert run.write_answer is False and run.api_token is not None
    first, continuation = outer_requests(sim, before)
    assert "tools" not in continuation.body
    told = continuation.body["messages"][-1]
    assert told["role"] == "tool" and told["content"].startswith(consult.RESULT_PREAMBLE)
    assert continuation.body["messages"][-2]["tool_calls"][0]["function"]["name"] == consult.FUSION_TOOL
    assert response.choices[0].message.content and response.choices[0].finish_reason == "stop"


def test_the_run_answers_with_the_panel_the_parameters_name_and_the_outer_model_judges(sdk, sim):
    response = ask(sdk)

    run = run_of(response.model_extra["fusion"])
    assert [answer.model for answer in run.answers.order_by("index")] == SEATS
    assert run.judge == OUTER


@pytest.mark.parametrize("named", [{"preset": "fusion/budget"}, {"panel": "budget"}])
def test_a_panel_named_in_the_parameters_answers_with_its_own_judge(sdk, sim, presets, named):
    response = ask(sdk, tools=[{"type": "openrouter:fusion", "parameters": named}])

    run = run_of(response.model_extra["fusion"])
    budget = presets["Budget"]
    assert [answer.model for answer in run.answers.order_by("index")] == list(budget.seats)
    assert run.judge == budget.judge


def test_a_panel_named_that_does_not_exist_is_refused(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, tools=[{"type": "fusion", "parameters": {"panel": "Nobody's"}}])

    assert refused.value.code == "panel_not_found" and refused.value.param == "tools[0].parameters.panel"


# --- tool_choice ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        "required",
        {"type": "fusion"},
        {"type": "openrouter:fusion"},
        {"type": "function", "function": {"name": "fusion"}},
    ],
)
def test_tool_choice_forces_the_call_and_the_continuation_is_not_forced(sdk, sim, choice):
    before = len(sim.requests)

    response = ask(sdk, SIMPLE, tool_choice=choice)

    assert response.model_extra["fusion"]["invoked"] is True
    assert Run.objects.count() == 1
    first, continuation = outer_requests(sim, before)
    assert first.body["tool_choice"] == consult.forced_choice()
    assert "tool_choice" not in continuation.body


def test_the_clients_tool_choice_passes_through_when_it_does_not_name_fusion(sdk, sim):
    before = len(sim.requests)

    response = ask(sdk, tools=[WEATHER, FUSION], tool_choice="none")

    (first,) = outer_requests(sim, before)
    assert first.body["tool_choice"] == "none"
    assert response.model_extra["fusion"]["invoked"] is False


# --- the client's own tools -----------------------------------------------------------------------


def test_mixed_calls_are_returned_to_the_client_and_no_panel_runs(sdk, sim):
    sim.configure(OUTER, tool_use="all")
    before = len(sim.requests)

    response = ask(sdk, tools=[WEATHER, FUSION])

    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [call.function.name for call in choice.message.tool_calls] == ["get_weather"]
    assert response.model_extra["fusion"]["invoked"] is False
    assert Run.objects.count() == 0 and seat_requests(sim, before) == []


def test_the_client_sends_its_tools_results_back_and_the_model_answers(sdk, sim):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        *WORTH_A_PANEL,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny."},
    ]

    response = ask(sdk, messages, tools=[WEATHER, FUSION])

    assert response.choices[0].message.content


def test_a_client_tool_named_fusion_is_refused(sdk, sim):
    theirs = {"type": "function", "function": {"name": "fusion", "parameters": {"type": "object"}}}

    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, tools=[FUSION, theirs])

    assert refused.value.code == "reserved_tool_name" and refused.value.param == "tools[1].function.name"


def test_the_fusion_tool_on_a_fusion_model_is_refused(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="fusion", messages=WORTH_A_PANEL, tools=[FUSION])

    assert refused.value.code == "fusion_tool_on_fusion_model"
    assert Run.objects.count() == 0


def test_the_fusion_tool_asked_by_a_fusion_run_is_refused_as_recursion(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, extra_headers={FUSION_DEPTH_HEADER: "1"})

    assert refused.value.code == "fusion_recursion"


@pytest.mark.parametrize(
    ("parameters", "param"),
    [
        ({"analysis_models": []}, "tools[1].parameters.analysis_models"),
        ({"analysis_models": ["a"] * 9}, "tools[1].parameters.analysis_models"),
        ({"max_tool_calls": 17}, "tools[1].parameters.max_tool_calls"),
        ({"temperature": "hot"}, "tools[1].parameters.temperature"),
    ],
)
def test_bad_parameters_are_refused_naming_the_param(sdk, sim, parameters, param):
    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, tools=[WEATHER, {"type": "fusion", "parameters": parameters}])

    assert refused.value.param == param


def test_a_panel_model_outside_the_catalog_is_refused_naming_the_param(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, tools=[{"type": "fusion", "parameters": {"analysis_models": ["nobody/nothing"]}}])

    assert refused.value.param == "tools[0].parameters.analysis_models"


def test_a_panel_model_the_token_may_not_use_is_forbidden_naming_the_param(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "narrow", allowed_models=[OUTER])

    with client_for(api, secret) as sdk, pytest.raises(openai.PermissionDeniedError) as refused:
        ask(sdk)

    assert refused.value.param == "tools[0].parameters.analysis_models"
    assert Run.objects.count() == 0


def test_an_outer_model_the_token_may_not_use_is_not_found(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "narrow", allowed_models=SEATS)

    with client_for(api, secret) as sdk, pytest.raises(openai.NotFoundError):
        ask(sdk)


def test_bad_arguments_are_an_error_result_and_no_run(sdk, sim):
    # The simulator's query is the user's text: blank, it is no query at all.
    before = len(sim.requests)

    response = ask(sdk, [{"role": "user", "content": "   "}], tool_choice="required")

    fusion = response.model_extra["fusion"]
    assert (fusion["invoked"], fusion["query"], fusion["run_id"]) == (True, None, None)
    assert (fusion["status"], fusion["failure_reason"]) == ("error", "invalid_arguments")
    assert Run.objects.count() == 0 and seat_requests(sim, before) == []
    told = outer_requests(sim, before)[-1].body["messages"][-1]
    assert told["role"] == "tool" and '"status": "error"' in told["content"]


# --- what the panel is sent -----------------------------------------------------------------------


def test_the_panels_requests_carry_the_depth_header_and_no_client_tools(sdk, sim):
    before = len(sim.requests)

    ask(sdk, tools=[WEATHER, FUSION], tool_choice={"type": "fusion"})

    seats = seat_requests(sim, before)
    assert len(seats) == len(SEATS)
    # The continuation offers the client's tools alone, unforced.
    continuation = outer_requests(sim, before)[-1]
    assert continuation.body["tools"] == [WEATHER] and "tool_choice" not in continuation.body
    for request in seats:
        assert request.headers[FUSION_DEPTH_HEADER.lower()] == "1"
        names = [tool["function"]["name"] for tool in request.body.get("tools") or []]
        assert "get_weather" not in names and consult.FUSION_TOOL not in names


# --- usage and the ledger -------------------------------------------------------------------------


def test_usage_adds_up_the_outer_calls_and_the_run(sdk, sim):
    response = ask(sdk)

    run = run_of(response.model_extra["fusion"])
    calls = list(ApiCall.objects.all())
    assert len(calls) == 2 and {call.model for call in calls} == {OUTER}
    usage = response.usage
    assert usage.prompt_tokens == sum(call.prompt_tokens for call in calls) + run.prompt_tokens
    assert usage.completion_tokens == sum(call.completion_tokens for call in calls) + run.completion_tokens
    assert usage.model_extra["cost"] == pytest.approx(sum(call.cost for call in calls) + run.cost)
    roles = [call["role"] for call in usage.model_extra["calls"]]
    assert roles == ["outer", "outer", "panel", "panel", "judge"]


def test_a_model_that_answers_directly_is_one_call_on_the_ledger(sdk, sim):
    response = ask(sdk, SIMPLE)

    (call,) = ApiCall.objects.all()
    assert call.status == ApiCall.Status.DONE
    assert response.usage.completion_tokens == call.completion_tokens > 0


def test_a_provider_refusing_the_first_call_is_that_error_and_no_run(sdk, sim):
    sim.configure(OUTER, fault="rate_limit", retry_after_s=0)

    with pytest.raises(openai.RateLimitError):
        ask(sdk)

    assert Run.objects.count() == 0


def test_a_budget_refusing_the_run_is_the_gates_402(sdk, sim, alice):
    # Enough for the outer model's small call (some $0.0001), not for the panel's run (some $0.014).
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.01"))

    with pytest.raises(openai.APIStatusError) as refused:
        ask(sdk, max_tokens=20, tool_choice="required")

    assert (refused.value.status_code, refused.value.code) == (402, "budget_exceeded")
    assert "run would go over" in refused.value.message
    assert Run.objects.count() == 0 and ApiCall.objects.count() == 1


def run_limit_reached(alice) -> None:
    conversation = Conversation.objects.create(owner=alice)
    turn = Turn.objects.create(conversation=conversation, position=0, prompt="earlier")
    Run.objects.bulk_create(Run(turn=turn, judge="j", writer="w", status=Run.Status.DONE) for _ in range(10))


def test_a_run_limit_refusing_a_streamed_run_is_a_429_before_the_stream(sdk, sim, alice):
    run_limit_reached(alice)

    with pytest.raises(openai.RateLimitError):
        ask(sdk, stream=True, tool_choice="required")


def test_a_refusal_after_the_model_spoke_ends_the_stream_with_the_error(sdk, sim, alice):
    sim.configure(OUTER, tool_preamble="Let me ask a panel. ")
    run_limit_reached(alice)
    stream = ask(sdk, stream=True)

    with pytest.raises(openai.APIError) as failed:
        list(stream)

    assert "runs in the last minute" in failed.value.message
    assert Run.objects.count() == 10


# --- streaming ------------------------------------------------------------------------------------


def test_streamed_text_before_the_call_reaches_the_client_and_no_fusion_call_ever_does(sdk, sim):
    sim.configure(OUTER, tool_preamble="Let me ask a panel. ")

    text, chunks = streamed(ask(sdk, stream=True, stream_options={"include_usage": True}))

    assert text.startswith("Let me ask a panel. \n\n") and len(text) > 40
    assert all(not c.choices or c.choices[0].delta.tool_calls is None for c in chunks)
    fusion = fusion_of(chunks)
    assert fusion["invoked"] is True and fusion["run_id"] == Run.objects.get().pk
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_the_preamble_streams_before_the_panel_answers(sdk, sim):
    sim.configure(OUTER, tool_preamble="Let me ask a panel. ")
    stream = ask(sdk, stream=True, stream_options={"include_fusion_events": True})

    order = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            order.append("text")
        elif "fusion_event" in chunk.model_extra:
            order.append("panel")
    assert order[0] == "text" and "panel" in order and order[-1] == "text"


def test_a_streamed_answer_without_the_panel_is_the_models(sdk, sim):
    text, chunks = streamed(ask(sdk, SIMPLE, stream=True))

    assert text and fusion_of(chunks)["invoked"] is False
    assert Run.objects.count() == 0


def test_streamed_mixed_calls_return_the_clients_calls_only(sdk, sim):
    sim.configure(OUTER, tool_use="all")

    _, chunks = streamed(ask(sdk, tools=[WEATHER, FUSION], stream=True))

    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert [call.function.name for call in calls] == ["get_weather"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert Run.objects.count() == 0


def test_fusion_events_draw_the_panel_live_on_request(sdk, sim):
    _, chunks = streamed(ask(sdk, stream=True, stream_options={"include_fusion_events": True}))

    kinds = {c.model_extra["fusion_event"]["type"] for c in chunks if "fusion_event" in c.model_extra}
    assert {"seat.started", "seat.done", "analysis.ready"} <= kinds


def test_the_stream_keeps_alive_with_comments_while_the_panel_works(api, token, sim):
    body = {"model": OUTER, "messages": WORTH_A_PANEL, "tools": [FUSION], "stream": True}
    headers = {"Authorization": f"Bearer {token[1]}"}

    with httpx.stream("POST", f"{api}/chat/completions", json=body, headers=headers, timeout=60) as response:
        lines = list(response.iter_lines())

    assert any(line.startswith(": fusion") for line in lines)
    assert [line for line in lines if line][-1] == "data: [DONE]"
