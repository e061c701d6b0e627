"""The judge's schema, prompt, tolerant parsing and the mapping from labels to seats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.fusion.judge import (
    JUDGE_SYSTEM_PROMPT,
    JudgeConsensus,
    JudgeContradiction,
    JudgeCoverage,
    JudgeInsight,
    JudgeOutput,
    JudgeOutputError,
    JudgeStance,
    build_judge_messages,
    build_repair_messages,
    extract_json,
    parse_judge_output,
    response_format_for_judge,
    to_analysis,
)
from tests.fakes import analysis_json

EMPTY = JudgeOutput(consensus=[], contradictions=[], partial_coverage=[], unique_insights=[], blind_spots=[])


def all_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(message["content"]) for message in messages)


def test_the_judge_reads_labelled_responses() -> None:
    messages = build_judge_messages("Why?", [], [("A", "Because."), ("B", "No idea.")])

    text = all_text(messages)
    assert "--- Response A ---\nBecause." in text
    assert "--- Response B ---\nNo idea." in text


def test_the_judge_reads_the_question_and_the_thread_before_it() -> None:
    thread = [
        {"role": "user", "content": "Tell me about Rayleigh."},
        {"role": "assistant", "content": "He was a physicist."},
    ]
    messages = build_judge_messages("And the sky?", thread, [("A", "x"), ("B", "y")])

    user = messages[-1]["content"]
    assert "User: Tell me about Rayleigh." in user
    assert "Assistant: He was a physicist." in user
    assert user.index("He was a physicist.") < user.index("And the sky?")


def test_the_system_prompt_shows_a_shape_that_is_itself_valid() -> None:
    example = JUDGE_SYSTEM_PROMPT[JUDGE_SYSTEM_PROMPT.index("{") :]

    assert JudgeOutput.model_validate_json(example)


def test_the_response_format_is_a_strict_json_schema_of_the_judge_output() -> None:
    response_format = response_format_for_judge()

    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "fusion_analysis"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"] == JudgeOutput.model_json_schema()


def test_every_object_in_the_schema_forbids_extra_keys_and_requires_every_key() -> None:
    # What strict structured output demands of a schema.
    schema = response_format_for_judge()["json_schema"]["schema"]
    objects = [schema, *schema["$defs"].values()]

    assert all(obj["additionalProperties"] is False for obj in objects)
    assert all(set(obj["required"]) == set(obj["properties"]) for obj in objects)


def test_the_repair_request_carries_the_bad_output_and_the_error() -> None:
    original = build_judge_messages("Why?", [], [("A", "x"), ("B", "y")])

    repair = build_repair_messages(original, "{not json", "the reply contains no JSON object")

    assert repair[: len(original)] == original
    assert repair[-2] == {"role": "assistant", "content": "{not json"}
    assert "the reply contains no JSON object" in repair[-1]["content"]
    assert "JSON" in repair[-1]["content"]


def test_it_extracts_bare_json() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}


def test_it_extracts_json_from_a_fence_amid_chatter() -> None:
    text = 'Sure! Here is the analysis:\n```json\n{"a": {"b": [1, 2]}}\n```\nHope this helps {:'

    assert extract_json(text) == {"a": {"b": [1, 2]}}


def test_it_extracts_the_first_balanced_object_after_stray_braces() -> None:
    text = 'Thinking {about it} ... {"a": "a } inside a string"} and {"b": 2}'

    assert extract_json(text) == {"a": "a } inside a string"}


def test_it_ignores_a_thinking_block_before_the_json() -> None:
    text = '<think>maybe {"wrong": true}?</think>\n{"right": true}'

    assert extract_json(text) == {"right": True}


def test_it_says_so_when_there_is_no_object() -> None:
    with pytest.raises(JudgeOutputError, match="no JSON object"):
        extract_json("I could not decide. [1, 2]")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=10,
)
chatter = st.text(alphabet=st.characters(exclude_characters="{}`"))


@given(
    obj=st.dictionaries(st.text(), json_values, max_size=4),
    before=chatter,
    after=chatter,
    indent=st.none() | st.integers(0, 4),
)
def test_it_finds_the_object_inside_any_chatter_without_braces(
    obj: dict[str, Any], before: str, after: str, indent: int | None
) -> None:
    assert extract_json(before + json.dumps(obj, indent=indent) + after) == obj


def test_a_valid_reply_parses() -> None:
    assert parse_judge_output(analysis_json()).blind_spots == ["Nobody mentioned sunsets."]


def test_a_reply_missing_a_field_fails_naming_it() -> None:
    data = json.loads(analysis_json())
    del data["blind_spots"]

    with pytest.raises(JudgeOutputError, match="blind_spots: Field required"):
        parse_judge_output(json.dumps(data))


def test_a_reply_with_an_unknown_field_fails() -> None:
    data = json.loads(analysis_json()) | {"verdict": "A wins"}

    with pytest.raises(JudgeOutputError, match="verdict"):
        parse_judge_output(json.dumps(data))


def test_labels_map_back_to_seats() -> None:
    output = EMPTY.model_copy(
        update={
            "consensus": [JudgeConsensus(point="p", responses=["A", "B"])],
            "contradictions": [
                JudgeContradiction(
                    topic="t",
                    stances=[JudgeStance(response="A", stance="yes"), JudgeStance(response="B", stance="no")],
                    assessment="B is right.",
                )
            ],
            "partial_coverage": [JudgeCoverage(point="q", responses=["B"])],
            "unique_insights": [JudgeInsight(response="B", insight="i", why_it_matters="w")],
        }
    )

    analysis = to_analysis(output, {"A": 0, "B": 2})

    assert analysis.consensus[0].seats == [0, 2]
    assert [(s.seat, s.stance) for s in analysis.contradictions[0].stances] == [(0, "yes"), (2, "no")]
    assert analysis.contradictions[0].assessment == "B is right."
    assert analysis.partial_coverage[0].seats == [2]
    assert analysis.unique_insights[0].seat == 2


def test_unknown_labels_are_dropped_and_their_point_kept() -> None:
    output = EMPTY.model_copy(update={"consensus": [JudgeConsensus(point="p", responses=["A", "Z", "GPT"])]})

    assert to_analysis(output, {"A": 0, "B": 1}).consensus[0].seats == [0]


def test_an_insight_from_an_unknown_label_is_dropped() -> None:
    output = EMPTY.model_copy(
        update={"unique_insights": [JudgeInsight(response="Q", insight="i", why_it_matters="w")]}
    )

    assert to_analysis(output, {"A": 0, "B": 1}).unique_insights == []


def test_repeated_labels_count_once() -> None:
    output = EMPTY.model_copy(
        update={"partial_coverage": [JudgeCoverage(point="p", responses=["B", "B", "Response B", "A"])]}
    )

    assert to_analysis(output, {"A": 0, "B": 1}).partial_coverage[0].seats == [1, 0]


def test_a_second_stance_from_the_same_response_is_dropped() -> None:
    stances = [JudgeStance(response="A", stance="first"), JudgeStance(response="a", stance="second")]
    output = EMPTY.model_copy(
        update={"contradictions": [JudgeContradiction(topic="t", stances=stances, assessment="?")]}
    )

    assert [s.stance for s in to_analysis(output, {"A": 0}).contradictions[0].stances] == ["first"]


def test_labels_written_as_headings_or_in_lower_case_still_map() -> None:
    output = EMPTY.model_copy(
        update={"consensus": [JudgeConsensus(point="p", responses=["Response A", "b", " (C) "])]}
    )

    assert to_analysis(output, {"A": 0, "B": 1, "C": 2}).consensus[0].seats == [0, 1, 2]


def test_blind_spots_pass_through() -> None:
    output = EMPTY.model_copy(update={"blind_spots": ["x", "y"]})

    assert to_analysis(output, {"A": 0}).blind_spots == ["x", "y"]


labels = st.sampled_from(["A", "B", "C", "a", "Response B", "Z", "", "GPT-5"])


@given(
    points=st.lists(st.lists(labels, max_size=6), max_size=4),
    authors=st.lists(labels, max_size=4),
)
def test_mapped_seats_are_always_known_and_never_repeated(
    points: list[list[str]], authors: list[str]
) -> None:
    label_to_seat = {"A": 0, "B": 3, "C": 5}
    output = EMPTY.model_copy(
        update={
            "consensus": [JudgeConsensus(point="p", responses=responses) for responses in points],
            "unique_insights": [JudgeInsight(response=r, insight="i", why_it_matters="w") for r in authors],
        }
    )

    analysis = to_analysis(output, label_to_seat)

    assert len(analysis.consensus) == len(points)
    for point in analysis.consensus:
        assert set(point.seats) <= {0, 3, 5}
        assert len(point.seats) == len(set(point.seats))
    assert {insight.seat for insight in analysis.unique_insights} <= {0, 3, 5}


def test_the_judges_prose_names_seats_not_labels() -> None:
    output = parse_judge_output(
        json.dumps(
            {
                "consensus": [],
                "contradictions": [
                    {
                        "topic": "Speed",
                        "stances": [{"response": "A", "stance": "Fast, unlike Response B."}],
                        "assessment": "Response B is right; Response Z does not exist.",
                    }
                ],
                "partial_coverage": [],
                "unique_insights": [],
                "blind_spots": ["Neither Response A nor the others mention cost."],
            }
        )
    )
    analysis = to_analysis(output, {"A": 0, "B": 2})
    assert analysis.contradictions[0].assessment == "seat #3 is right; Response Z does not exist."
    assert analysis.contradictions[0].stances[0].stance == "Fast, unlike seat #3."
    assert analysis.blind_spots == ["Neither seat #1 nor the others mention cost."]


def test_think_tags_inside_the_object_are_kept() -> None:
    # Found by the property above: a key that reads "<THINK></THINK>" is text, not thinking.
    assert extract_json('{"<THINK></THINK>": null}') == {"<THINK></THINK>": None}
