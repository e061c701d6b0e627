"""A judge's analysis that refers to the answers by the labels the prompt gave them."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from chat.simulator.json_schema import Path, SchemaFaker, field_name
from chat.simulator.phrasebook import (
    ASSESSMENTS,
    BLIND_SPOTS,
    CONSENSUS_POINTS,
    COVERAGE_POINTS,
    DEBATES,
    UNIQUE_INSIGHTS,
    WHY_IT_MATTERS,
)

ANALYSIS_SCHEMA_NAME = "fusion_analysis"
_LABEL = re.compile(r"\bResponse ([A-H])\b")
_LABEL_FIELDS = ("response", "label", "seat")
_PER_LABEL_ARRAYS = ("stance", "position", "view", "opinion")


def find_labels(text: str) -> list[str]:
    """The answer labels a judge prompt uses ("Response A", "Response B", ...), as letters."""
    return sorted(set(_LABEL.findall(text)))


def is_analysis_schema(name: str | None, schema: dict[str, Any]) -> bool:
    return name == ANALYSIS_SCHEMA_NAME or "consensus" in (schema.get("properties") or {})


# Used when a judge asks for the analysis in JSON without giving a schema.
DEFAULT_ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "consensus": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
        "contradictions": {"type": "array", "items": {"$ref": "#/$defs/Contradiction"}},
        "partial_coverage": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
        "unique_insights": {"type": "array", "items": {"$ref": "#/$defs/Insight"}},
        "blind_spots": {"type": "array", "items": {"type": "string"}},
    },
    "$defs": {
        "Point": {
            "type": "object",
            "properties": {"point": {"type": "string"}, "responses": {"type": "array", "items": {}}},
        },
        "Contradiction": {
            "type": "object",
            "properties": {
                "topic": {"type": "string"},
                "stances": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"response": {"type": "string"}, "stance": {"type": "string"}},
                    },
                },
                "assessment": {"type": "string"},
            },
        },
        "Insight": {
            "type": "object",
            "properties": {
                "response": {"type": "string"},
                "insight": {"type": "string"},
                "why_it_matters": {"type": "string"},
            },
        },
    },
}


class AnalysisFaker(SchemaFaker):
    """Fills a judge's schema: labels where answers are named, the panel's themes everywhere else."""

    def __init__(self, schema: dict[str, Any], rng: random.Random, labels: Sequence[str]) -> None:
        super().__init__(schema, rng)
        # A judge schema without labels in its prompt still needs someone to attribute points to.
        self.labels = list(labels) or ["A", "B"]
        self.debates = rng.sample(DEBATES, 3)
        self.consensus = rng.sample(CONSENSUS_POINTS, 4)
        self.coverage = rng.sample(COVERAGE_POINTS, 4)
        self.insights = rng.sample(UNIQUE_INSIGHTS, 4)
        self.blind_spots = rng.sample(BLIND_SPOTS, 3)
        # Which answer is "right" in each contradiction, and who contributed each insight.
        self.offset = rng.randrange(len(self.labels))

    def array_length(self, schema: dict[str, Any], path: Path) -> int:
        name = field_name(path).lower()
        item = self.resolve(schema.get("items") or {})
        if _mentions(name, _PER_LABEL_ARRAYS) and _has_label_field(item):
            return len(self.labels)
        if "contradiction" in name:
            return 2
        if "insight" in name:
            return min(2, len(self.labels))
        return 2 if _mentions(name, ("blind", "coverage", "partial", "consensus")) else 1

    def array_value(self, schema: dict[str, Any], path: Path) -> list[Any]:
        item = self.resolve(schema.get("items") or {})
        if not _is_label_field(field_name(path)) or self.kind_of(item) in ("object", "array"):
            return super().array_value(schema, path)
        chosen = self._labels_for(path)
        if "maxItems" in schema:
            chosen = chosen[: schema["maxItems"]]
        while len(chosen) < schema.get("minItems", 0):
            chosen.append(self.labels[len(chosen) % len(self.labels)])
        return [self.label_value(label, item) for label in chosen]

    def enum_value(self, choices: list[Any], path: Path) -> Any:
        if _is_label_field(field_name(path)):
            return self.label_value(self._label_at(path), {"enum": choices})
        return super().enum_value(choices, path)

    def string_value(self, schema: dict[str, Any], path: Path) -> str:
        if _is_label_field(field_name(path)):
            return str(self.label_value(self._label_at(path), schema))
        return super().string_value(schema, path)

    def integer_value(self, schema: dict[str, Any], path: Path) -> int:
        if _is_label_field(field_name(path)):
            return int(self.label_value(self._label_at(path), schema))
        return super().integer_value(schema, path)

    def label_value(self, label: str, schema: dict[str, Any]) -> Any:
        """The label in the form the schema wants: an enum entry, a seat index, or the letter."""
        if "enum" in schema:
            return next((c for c in schema["enum"] if str(c).endswith(label)), schema["enum"][0])
        if self.kind_of(schema) == "integer":
            return self.labels.index(label) + int(schema.get("minimum", 0))
        pattern = schema.get("pattern")
        candidates = (label, f"Response {label}")
        if pattern:
            return next((c for c in candidates if re.search(pattern, c)), label)
        return label

    def _labels_for(self, path: Path) -> list[str]:
        names = " ".join(str(part).lower() for part in path if isinstance(part, str))
        if "consensus" in names:
            return list(self.labels)
        index = _last_index(path)
        size = len(self.labels) - 1 if "partial" in names or "coverage" in names else len(self.labels)
        start = (self.offset + index) % len(self.labels)
        rotated = self.labels[start:] + self.labels[:start]
        return sorted(rotated[: max(1, size)])

    def _label_at(self, path: Path) -> str:
        names = " ".join(str(part).lower() for part in path if isinstance(part, str))
        index = _last_index(path)
        if _mentions(names, _PER_LABEL_ARRAYS):
            return self.labels[index % len(self.labels)]
        return self.labels[(self.offset + index) % len(self.labels)]

    def text(self, schema: dict[str, Any], path: Path) -> str:
        names = [str(part).lower() for part in path if isinstance(part, str)]
        name = names[-1] if names else ""
        context = " ".join(names)
        index = _last_index(path)
        debate = self.debates[_index_after(path, "contradiction") % len(self.debates)]
        if _mentions(name, ("topic", "issue", "question")):
            return debate.topic[:1].upper() + debate.topic[1:]
        if _mentions(name, _PER_LABEL_ARRAYS) or name == "claim":
            return debate.positions[index % len(debate.positions)]
        if _mentions(name, ("assessment", "verdict", "resolution", "judg")):
            winner = self.labels[(self.offset + _index_after(path, "contradiction")) % len(self.labels)]
            return self.rng.choice(ASSESSMENTS).format(label=winner)
        if _mentions(name, ("why", "matter", "importance", "impact", "rationale", "reason")):
            return WHY_IT_MATTERS[index % len(WHY_IT_MATTERS)]
        if _mentions(name, ("insight", "contribution")):
            return self.insights[index % len(self.insights)]
        if _mentions(context, ("blind", "missing", "gap", "omission")):
            return self.blind_spots[index % len(self.blind_spots)]
        if _mentions(context, ("partial", "coverage")):
            return self.coverage[index % len(self.coverage)]
        if _mentions(context, ("consensus", "agree")) or name == "point":
            return self.consensus[index % len(self.consensus)]
        if _mentions(name, ("summary", "overview")):
            return f"The answers broadly agree, but they split on {debate.topic}."
        return super().text(schema, path)


def _mentions(name: str, fragments: Sequence[str]) -> bool:
    return any(fragment in name for fragment in fragments)


def _is_label_field(name: str) -> bool:
    return _mentions(name.lower(), _LABEL_FIELDS)


def _has_label_field(item: dict[str, Any]) -> bool:
    return any(_is_label_field(name) for name in item.get("properties") or {})


def _last_index(path: Path) -> int:
    return next((part for part in reversed(path) if isinstance(part, int)), 0)


def _index_after(path: Path, fragment: str) -> int:
    """The index of the item inside the array whose name contains `fragment` (0 when none)."""
    for position, part in enumerate(path[:-1]):
        if isinstance(part, str) and fragment in part.lower() and isinstance(path[position + 1], int):
            return int(path[position + 1])
    return 0
