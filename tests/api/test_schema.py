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
