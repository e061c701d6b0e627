"""Suites: our shape, DRACO's as published, YAML, and errors that say which row and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat.evaluation.suites import MAX_SUITE_BYTES, SuiteError, read_suite

STARTER = Path(__file__).resolve().parents[2] / "chat" / "evaluation" / "examples" / "starter.jsonl"


def jsonl(*rows: object) -> str:
    return "\n".join(json.dumps(row) for row in rows)


def test_the_starter_suite_has_a_dozen_tasks_over_four_domains_with_negative_criteria() -> None:
    suite = read_suite(STARTER.read_bytes(), STARTER.name)
    assert len(suite.tasks) == 12 and suite.domains == ["finance", "health", "programming", "science"]
    assert all(any(c.negative for c in task.criteria) for task in suite.tasks)


def test_a_draco_row_is_read_as_published_with_sections_as_axes() -> None:
    rubric = {
        "sections": [
            {"name": "Factual accuracy", "criteria": [{"weight": 10, "requirement": "Names the treaty."}]},
            {"name": "Harm", "criteria": [{"weight": -15, "requirement": "Invents a citation."}]},
        ]
    }
    row = {"id": 7, "domain": "law", "problem": "What ended the war?", "answer": json.dumps(rubric)}
    (task,) = read_suite(jsonl(row)).tasks
    assert (task.id, task.domain, task.prompt) == ("7", "law", "What ended the war?")
    assert [(c.id, c.axis, c.weight) for c in task.criteria] == [
        ("s1c1", "Factual accuracy", 10),
        ("s2c1", "Harm", -15),
    ]


def test_our_shape_takes_messages_and_yaml_too() -> None:
    yaml_text = """
tasks:
  - id: t1
    domain: maths
    messages:
      - {role: system, content: Be brief.}
      - {role: user, content: "What is 2+2?"}
    criteria:
      - {id: right, axis: accuracy, weight: 5, requirement: Says 4.}
"""
    (task,) = read_suite(yaml_text, "suite.yaml").tasks
    assert task.prompt == "What is 2+2?" and task.context == [{"role": "system", "content": "Be brief."}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            jsonl({"id": "a", "prompt": "Q?", "criteria": [{"weight": -5, "requirement": "Bad."}]}),
            "row 1, criteria: at least one criterion must have a positive weight",
        ),
        (
            jsonl(
                {"id": "a", "prompt": "Q?", "criteria": [{"weight": 5, "requirement": "Ok."}]},
                {"id": "b", "prompt": "Q?", "criteria": [{"weight": "ten", "requirement": "Ok."}]},
            ),
            "row 2, criteria[1].weight: Input should be a valid integer",
        ),
        ('{"id": "a", "prompt": ', "row 1: not JSON"),
        (jsonl({"id": "a", "problem": "Q?", "answer": "{nope"}), "row 1, answer: the rubric is not JSON"),
        (
            jsonl({"id": "a", "prompt": "Q?", "criteria": [{"weight": 0, "requirement": "Ok."}]}),
            "row 1, criteria[1].weight: a weight of 0 counts for nothing",
        ),
        (
            jsonl(*[{"id": "a", "prompt": "Q?", "criteria": [{"weight": 1, "requirement": "Ok."}]}] * 2),
            "task id 'a' appears twice",
        ),
        ("", "the file has no tasks"),
    ],
)
def test_each_problem_names_its_row_and_field(text: str, expected: str) -> None:
    with pytest.raises(SuiteError) as raised:
        read_suite(text)
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    with pytest.raises(SuiteError, match="larger than"):
        read_suite(b" " * (MAX_SUITE_BYTES + 1))
