"""Evaluation suites: tasks with weighted rubric criteria, read from JSONL or YAML.

Two shapes are read, row by row:

- ours: ``{"id", "domain", "prompt" | "messages", "criteria": [{"id", "axis", "weight",
  "requirement"}]}``, weights integers, negative for an error the answer must not make;
- DRACO's, as published: ``{"id", "domain", "problem", "answer"}`` where ``answer`` is the rubric
  as JSON (a string or an object): ``{"sections": [{"name"?, "criteria": [{"weight",
  "requirement"}]}]}``; a section's name is its criteria's axis.

A problem is reported with its row and field ("row 3, criteria[2].weight: …"), all of them at
once up to a bound, so a file is fixed in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_SUITE_BYTES = 5 * 1024 * 1024
MAX_TASKS = 500
MAX_CRITERIA = 100
MAX_PROMPT_CHARS = 50_000
MAX_REQUIREMENT_CHARS = 4_000
MAX_WEIGHT = 1_000
# Errors listed for one file: enough to fix it in one go, bounded for a hostile one.
MAX_REPORTED_ERRORS = 20

Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S")]


class SuiteError(ValueError):
    """A suite that cannot be read: every problem found, each naming its row and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(self.problems)
        tail = f" (and {more} more)" if more > 0 else ""
        super().__init__("; ".join(self.problems) + tail)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    axis: Annotated[str, Field(min_length=1, max_length=80)] = "general"
    # Negative: an error the answer must not make; "met" then means the answer made it.
    weight: int = Field(ge=-MAX_WEIGHT, le=MAX_WEIGHT)
    requirement: Annotated[str, Field(min_length=1, max_length=MAX_REQUIREMENT_CHARS)]

    @field_validator("weight")
    @classmethod
    def _not_zero(cls, weight: int) -> int:
        if weight == 0:
            raise ValueError("a weight of 0 counts for nothing: give it a positive or a negative weight")
        return weight

    @property
    def negative(self) -> bool:
        return self.weight < 0


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    domain: Annotated[str, Field(min_length=1, max_length=80)] = "general"
    # The thread asked; the last message is the question.
    messages: list[Message] = Field(min_length=1, max_length=50)
    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)

    @model_validator(mode="after")
    def _checked(self) -> Task:
        if self.messages[-1].role != "user":
            raise ValueError("messages: the last message must be the user's question")
        if not any(criterion.weight > 0 for criterion in self.criteria):
            raise ValueError("criteria: at least one criterion must have a positive weight")
        ids = [criterion.id for criterion in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criteria: two criteria share an id")
        return self

    @property
    def prompt(self) -> str:
        return self.messages[-1].content

    @property
    def context(self) -> list[dict[str, str]]:
        """The messages before the question, as a run's context takes them."""
        return [message.model_dump() for message in self.messages[:-1]]

    @property
    def positive_weight(self) -> int:
        return sum(criterion.weight for criterion in self.criteria if criterion.weight > 0)


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: list[Task] = Field(min_length=1, max_length=MAX_TASKS)

    def task(self, task_id: str) -> Task:
        return next(task for task in self.tasks if task.id == task_id)

    @property
    def domains(self) -> list[str]:
        return sorted({task.domain for task in self.tasks})

    @property
    def criteria_count(self) -> int:
        return sum(len(task.criteria) for task in self.tasks)


def read_suite(data: bytes | str, filename: str = "suite.jsonl") -> Suite:
    """The suite in `data` (JSONL, or YAML when the file name says so); SuiteError otherwise."""
    if len(data) > MAX_SUITE_BYTES:
        raise SuiteError([f"the file is larger than {MAX_SUITE_BYTES // (1024 * 1024)} MB"])
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise SuiteError(["the file is not UTF-8 text"]) from None
    is_yaml = filename.lower().endswith((".yaml", ".yml"))
    rows = _yaml_rows(text) if is_yaml else _jsonl_rows(text)
    problems: list[str] = []
    tasks: list[Task] = []
    for where, row in rows:
        if isinstance(row, str):
            problems.append(f"{where}: {row}")
            continue
        try:
            tasks.append(task_from_row(row))
        except ValidationError as error:
            problems.extend(f"{where}, {problem}" for problem in _problems(error))
        except ValueError as error:
            problems.append(f"{where}, {error}")
    problems.extend(_duplicate_ids(tasks))
    if not tasks and not problems:
        problems.append("the file has no tasks")
    if len(tasks) > MAX_TASKS:
        problems.append(f"the suite has {len(tasks)} tasks; at most {MAX_TASKS} are evaluated at once")
    if problems:
        raise SuiteError(problems)
    return Suite(tasks=tasks)


def task_from_row(row: dict[str, Any]) -> Task:
    """One row, in DRACO's shape (`problem` and `answer`) or ours."""
    if "problem" in row and "answer" in row:
        return _draco_task(row)
    row = dict(row)
    if "prompt" in row:
        if "messages" in row:
            raise ValueError("give either prompt or messages, not both")
        prompt = row.pop("prompt")
        row["messages"] = [{"role": "user", "content": prompt}]
    row["criteria"] = [
        {"id": f"c{number}", **criterion}
        if isinstance(criterion, dict) and "id" not in criterion
        else criterion
        for number, criterion in enumerate(row.get("criteria") or [], start=1)
    ]
    if "id" in row and not isinstance(row["id"], str):
        row["id"] = str(row["id"])
    return Task.model_validate(row)


def _draco_task(row: dict[str, Any]) -> Task:
    rubric = row["answer"]
    if isinstance(rubric, str):
        try:
            rubric = json.loads(rubric)
        except json.JSONDecodeError as error:
            raise ValueError(f"answer: the rubric is not JSON ({error.msg}, char {error.pos})") from None
    if not isinstance(rubric, dict) or not isinstance(rubric.get("sections"), list):
        raise ValueError('answer: the rubric must be an object with a "sections" list')
    criteria: list[dict[str, Any]] = []
    for section_number, section in enumerate(rubric["sections"], start=1):
        if not isinstance(section, dict) or not isinstance(section.get("criteria"), list):
            raise ValueError(f'answer.sections[{section_number}]: a section must have a "criteria" list')
        axis = str(section.get("name") or section.get("title") or section.get("section") or "general")[:80]
        for number, criterion in enumerate(section["criteria"], start=1):
            if not isinstance(criterion, dict):
                raise ValueError(f"answer.sections[{section_number}].criteria[{number}]: not an object")
            weight = criterion.get("weight")
            if isinstance(weight, float) and weight.is_integer():
                weight = int(weight)
            criteria.append(
                {
                    "id": str(criterion.get("id") or f"s{section_number}c{number}"),
                    "axis": axis,
                    "weight": weight,
                    "requirement": criterion.get("requirement"),
                }
            )
    return Task.model_validate(
        {
            "id": str(row.get("id")) if row.get("id") is not None else None,
            "domain": row.get("domain") or "general",
            "messages": [{"role": "user", "content": row["problem"]}],
            "criteria": criteria,
        }
    )


type Row = tuple[str, dict[str, Any] | str]


def _jsonl_rows(text: str) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"row {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            rows.append((where, f"not JSON ({error.msg}, column {error.colno})"))
            continue
        rows.append((where, value if isinstance(value, dict) else "a row must be a JSON object"))
    return rows


def _yaml_rows(text: str) -> list[Row]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise SuiteError([f"not YAML{line}"]) from None
    if isinstance(document, dict) and "tasks" in document:
        document = document["tasks"]
    if not isinstance(document, list):
        raise SuiteError(["a YAML suite is a list of tasks (or an object with a tasks list)"])
    return [
        (f"task {number}", row if isinstance(row, dict) else "a task must be a mapping")
        for number, row in enumerate(document, start=1)
    ]


def _problems(error: ValidationError) -> Iterable[str]:
    for problem in error.errors(include_url=False):
        field = _field_name(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        yield f"{field}: {message}" if field else message


def _field_name(location: tuple[int | str, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _duplicate_ids(tasks: list[Task]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for task in tasks:
        if task.id in seen:
            repeated.append(f"task id {task.id!r} appears twice")
        seen.add(task.id)
    return repeated
