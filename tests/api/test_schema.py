"""The request body: lenient about fields FusionRoom ignores, strict about the ones it uses."""

from __future__ import annotations

import json

import pytest

from chat.views.api.errors import ApiError
from chat.views.api.schema import parse_request

QUESTION = [{"role": "user", "content": "Why?"}]


def parse(**fields):
    return parse_request(json.dumps({"model": "fusion", "messages": QUESTION, **fields}).encode())


def refusal(**fields) -> ApiError:
    with pytest.raises(ApiError) as refused:
        parse(**fields)
    return refused.value


def test_fields_openai_clients_send_and_fusionroom_ignores_are_accepted():
    body = parse(user="u-1", seed=7, metadata={"a": "b"}, store=False, frequency_penalty=0.1)

    assert body.model == "fusion"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "true"}, "stream"),
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ],
)
def test_the_fields_fusionroom_uses_are_checked_strictly(fields, param):
    refused = refusal(**fields)

    assert (refused.status, refused.param) == (400, param)


def test_a_whole_number_is_a_temperature():
    assert parse(temperature=1).sampling.temperature == 1


def test_n_above_one_says_why():
    assert refusal(n=2).code == "unsupported_n"


def test_the_question_is_the_text_of_the_last_message_and_the_rest_is_its_context():
    body = parse(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Look: "}, {"type": "image_url", "image_url": {}}],
            },
            {"role": "assistant", "content": "Yes?"},
            {"role": "user", "content": [{"type": "text", "text": "Why?"}]},
        ]
    )

    assert body.question == "Why?"
    assert body.context == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Look: "},
        {"role": "assistant", "content": "Yes?"},
    ]


def test_max_completion_tokens_wins_over_max_tokens():
    assert parse(max_tokens=900, max_completion_tokens=300).sampling.max_tokens == 300


def test_a_plugin_out_of_bounds_names_its_field():
    body = parse(plugins=[{"id": "fusion", "max_tool_calls": 17}])

    with pytest.raises(ApiError) as refused:
        body.fusion_plugin  # noqa: B018 - read for its validation

    assert refused.value.param == "plugins.fusion.max_tool_calls"


def test_other_plugins_are_left_alone():
    assert parse(plugins=[{"id": "web"}]).fusion_plugin is None


# --- the fusion server tool ------------------------------------------------------------------------

PLAIN = "moonshotai/kimi-k2.6"
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def plain(**fields):
    return parse(model=PLAIN, **fields)


def test_a_plain_request_has_no_server_tool_and_its_tools_are_the_clients():
    body = plain(tools=[WEATHER])

    assert body.server_tool is None and body.client_tools == [WEATHER]


@pytest.mark.parametrize("kind", ["fusion", "openrouter:fusion"])
def test_the_server_tool_is_found_by_either_name_and_is_not_the_clients(kind):
    body = plain(tools=[WEATHER, {"type": kind, "parameters": {"analysis_models": ["a", "b"], "unknown": 1}}])

    tool = body.server_tool
    assert tool is not None and tool.param == "tools[1]"
    assert tool.parameters.analysis_models == ["a", "b"]
    assert body.client_tools == [WEATHER]


def test_the_server_tool_given_twice_is_refused():
    with pytest.raises(ApiError) as refused:
        plain(tools=[{"type": "fusion"}, {"type": "openrouter:fusion"}]).server_tool  # noqa: B018

    assert refused.value.param == "tools[1]"


def test_a_client_function_named_fusion_is_refused_only_beside_the_server_tool():
    theirs = {"type": "function", "function": {"name": "fusion"}}
    assert plain(tools=[theirs]).server_tool is None

    with pytest.raises(ApiError) as refused:
        plain(tools=[theirs, {"type": "fusion"}]).server_tool  # noqa: B018

    assert (refused.value.code, refused.value.param) == ("reserved_tool_name", "tools[0].function.name")


def test_preset_and_panel_together_are_refused():
    with pytest.raises(ApiError) as refused:
        plain(tools=[{"type": "fusion", "parameters": {"preset": "a", "panel": "b"}}]).server_tool  # noqa: B018

    assert refused.value.param == "tools[0].parameters"


@pytest.mark.parametrize(
    ("choice", "tools", "forced"),
    [
        ("required", [{"type": "fusion"}], True),
        ("required", [WEATHER, {"type": "fusion"}], False),
        ({"type": "fusion"}, [WEATHER, {"type": "fusion"}], True),
        ({"type": "openrouter:fusion"}, [{"type": "fusion"}], True),
        ({"type": "function", "function": {"name": "fusion"}}, [{"type": "fusion"}], True),
        ({"type": "function", "function": {"name": "get_weather"}}, [WEATHER, {"type": "fusion"}], False),
        ("auto", [{"type": "fusion"}], False),
        (None, [{"type": "fusion"}], False),
    ],
)
def test_which_tool_choices_force_fusion(choice, tools, forced):
    assert plain(tools=tools, tool_choice=choice).forces_fusion is forced


def test_a_plain_model_may_answer_its_tools_results():
    messages = [*QUESTION, {"role": "tool", "tool_call_id": "call_1", "content": "Sunny."}]

    assert plain(messages=messages).messages[-1].role == "tool"
    with pytest.raises(ApiError):
        parse(messages=messages)
