"""A deterministic, valid instance of a JSON Schema, as pydantic and OpenAI emit them."""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

# Where a value sits: property names, and indexes for array items.
Path = tuple[str | int, ...]

_MAX_REF_DEPTH = 32
# Past this depth, recursive schemas (trees, threads) stop growing: optional values become null
# and arrays shrink to their minimum; far past it, the schema cannot end and is refused.
_GROWTH_DEPTH = 8
_MAX_DEPTH = 64
_NOUNS = ("Atlas", "Beacon", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor")
_SENTENCES = (
    "A clear, specific note about {what}.",
    "The main consideration for {what} is the concrete constraint behind it.",
    "In short, {what} depends on cost, risk and how easily the choice can be reversed.",
    "A plausible example of {what}, kept short on purpose.",
)
_SENTENCE_NAMES = ("description", "summary", "reason", "explanation", "text", "content", "answer", "note")


class SchemaError(ValueError):
    """The schema uses something this generator cannot follow (a remote $ref, a broken pointer)."""


class SchemaFaker:
    """Walks a schema and builds a value for it; subclasses choose the words for named fields."""

    def __init__(self, schema: dict[str, Any], rng: random.Random) -> None:
        self.root = schema
        self.rng = rng

    def instance(self) -> Any:
        return self.value(self.root, ())

    def value(self, schema: dict[str, Any], path: Path) -> Any:
        if len(path) > _MAX_DEPTH:
            raise SchemaError("the schema never ends (a required recursive field?)")
        # `true` (anything goes) and other non-object schemas get a plain string.
        schema = self.resolve(schema) if isinstance(schema, dict) else {}
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.enum_value(schema["enum"], path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.value(self.pick_option(schema[key], path), path)
        kind = self.kind_of(schema)
        if kind == "object":
            return self.object_value(schema, path)
        if kind == "array":
            return self.array_value(schema, path)
        if kind == "integer":
            return self.integer_value(schema, path)
        if kind == "number":
            return self.number_value(schema, path)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string_value(schema, path)

    # Following references and combinations.

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        for _ in range(_MAX_REF_DEPTH):
            if "$ref" not in schema:
                break
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**self._lookup(schema["$ref"]), **siblings}
        else:
            raise SchemaError("$ref chain too deep (a cycle?)")
        if "allOf" in schema:
            schema = self._merge_all_of(schema)
        return schema

    def _lookup(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise SchemaError(f"only local $ref is supported, not {ref!r}")
        node: Any = self.root
        for part in filter(None, ref[1:].split("/")):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                raise SchemaError(f"$ref {ref!r} points nowhere")
            node = node[key]
        if not isinstance(node, dict):
            raise SchemaError(f"$ref {ref!r} is not a schema")
        return node

    def _merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged = {key: value for key, value in schema.items() if key != "allOf"}
        for part in schema["allOf"]:
            part = self.resolve(part)
            merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            for key, value in part.items():
                merged.setdefault(key, value)
        if not merged["properties"]:
            del merged["properties"]
        return merged

    def pick_option(self, options: list[dict[str, Any]], path: Path) -> dict[str, Any]:
        # `X | None` arrives as anyOf [X, null]: the non-null branch is the informative one,
        # until a recursive schema has grown deep enough.
        nulls = [option for option in options if self.kind_of(self.resolve(option)) == "null"]
        if nulls and len(path) > _GROWTH_DEPTH:
            return nulls[0]
        return next((option for option in options if option not in nulls), options[0])

    @staticmethod
    def kind_of(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            return next((k for k in kind if k != "null"), "null")
        if isinstance(kind, str):
            return kind
        if "properties" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    # Values by kind.

    def enum_value(self, choices: list[Any], path: Path) -> Any:
        return self.rng.choice(choices)

    def object_value(self, schema: dict[str, Any], path: Path) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        result = {name: self.value(sub, (*path, name)) for name, sub in properties.items()}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and extra:
            result["example"] = self.value(extra, (*path, "example"))
        return result

    def array_value(self, schema: dict[str, Any], path: Path) -> list[Any]:
        prefix = schema.get("prefixItems")
        if prefix:
            return [self.value(item, (*path, index)) for index, item in enumerate(prefix)]
        items = schema.get("items") or {}
        length = self.array_length(schema, path) if len(path) <= _GROWTH_DEPTH else 0
        length = max(length, schema.get("minItems", 0))
        length = min(length, schema.get("maxItems", length))
        values: list[Any] = []
        for index in range(length * 4):
            if len(values) == length:
                break
            value = self.value(items, (*path, index))
            if schema.get("uniqueItems") and value in values:
                continue
            values.append(value)
        return values

    def array_length(self, schema: dict[str, Any], path: Path) -> int:
        return self.rng.randint(2, 3)

    def integer_value(self, schema: dict[str, Any], path: Path) -> int:
        low, high = _bounds(schema, step=1)
        if low is None:
            low = high - 9 if high is not None else 1
        if high is None:
            high = low + 9
        return self.rng.randint(int(low), max(int(low), int(high)))

    def number_value(self, schema: dict[str, Any], path: Path) -> float:
        low, high = _bounds(schema, step=1e-6)
        if low is None:
            low = high - 10.0 if high is not None else 0.0
        if high is None:
            high = low + 10.0
        value = round(self.rng.uniform(low, max(low, high)), 2)
        return value if low <= value <= high else (low + high) / 2

    def string_value(self, schema: dict[str, Any], path: Path) -> str:
        text = _formatted(schema.get("format"), self.rng) or self.text(schema, path)
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            text = self.text_matching(pattern, text)
        minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
        while len(text) < minimum:
            text += " More detail follows."
        if maximum is not None:
            text = text[:maximum]
        return text

    def text_matching(self, pattern: str, fallback: str) -> str:
        # Patterns are not generated in general; a few common shapes are covered, else the text stays.
        for candidate in ("A", "example", "example-1", "2026-01-01", "abc123"):
            if re.search(pattern, candidate):
                return candidate
        return fallback

    def text(self, schema: dict[str, Any], path: Path) -> str:
        """A plausible string for the field at `path`; override to speak a domain's language."""
        name = field_name(path).lower()
        words = name.replace("_", " ").replace("-", " ").strip() or "the value"
        if "email" in name:
            return "alice@example.com"
        if any(part in name for part in ("url", "uri", "link", "website")):
            return f"https://example.com/{self.rng.choice(_NOUNS).lower()}"
        if name == "id" or name.endswith("_id"):
            return f"{self.rng.getrandbits(48):012x}"
        if "date" in name:
            return "2026-03-14"
        if any(part in name for part in _SENTENCE_NAMES):
            return self.rng.choice(_SENTENCES).format(what=words)
        if "name" in name or "title" in name:
            return f"{self.rng.choice(_NOUNS)} {words.replace('name', '').strip() or 'project'}".strip()
        return f"{self.rng.choice(_NOUNS)} {words}"


def field_name(path: Path) -> str:
    """The name of the nearest property on the path ("tags" for an item of the "tags" array)."""
    return next((part for part in reversed(path) if isinstance(part, str)), "")


def _bounds(schema: dict[str, Any], *, step: float) -> tuple[float | None, float | None]:
    low = schema.get("minimum")
    if low is None and isinstance(schema.get("exclusiveMinimum"), int | float):
        low = schema["exclusiveMinimum"] + step
    high = schema.get("maximum")
    if high is None and isinstance(schema.get("exclusiveMaximum"), int | float):
        high = schema["exclusiveMaximum"] - step
    return low, high


def _formatted(fmt: str | None, rng: random.Random) -> str | None:
    if fmt == "date-time":
        return f"2026-03-{rng.randint(10, 28)}T09:30:00Z"
    if fmt == "date":
        return f"2026-03-{rng.randint(10, 28)}"
    if fmt == "time":
        return "09:30:00"
    if fmt == "email":
        return "alice@example.com"
    if fmt in ("uri", "url", "iri"):
        return f"https://example.com/{rng.choice(_NOUNS).lower()}"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "hostname":
        return "example.com"
    if fmt == "ipv4":
        return f"192.0.2.{rng.randint(1, 254)}"
    return None
