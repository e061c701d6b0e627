"""What a simulated model says to a request: prose, JSON, or a tool call."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chat.providers.types import SEAT_HEADER
from chat.simulator.analysis import (
    DEFAULT_ANALYSIS_SCHEMA,
    AnalysisFaker,
    find_labels,
    is_analysis_schema,
)
from chat.simulator.answers import write_answer, write_reasoning
from chat.simulator.config import SimulatedModel
from chat.simulator.json_schema import SchemaFaker
from chat.simulator.sampling import CANONICAL, Sampling, digest_int, seeded_random
from chat.simulator.tokens import message_text

_ASKS_FOR_JSON = re.compile(
    r"\b(?:respond|reply|answer|return|output|produce|give)\b[^.\n]{0,40}\bJSON\b"
    r"|\b(?:as|in|only) (?:a |an |valid |strict )?JSON\b|\bvalid JSON\b"
)
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+")
_MAX_SOURCES = 6
_MAX_QUERY = 200
# How many words a question needs before a model on "auto" calls a tool other than web search.
WORTH_A_TOOL_WORDS = 6


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def seat_of(headers: Mapping[str, str]) -> int | None:
    """The seat a request answers for (SEAT_HEADER), or None without a sound one."""
    value = headers.get(SEAT_HEADER, "")
    return int(value) if value.isdigit() and len(value) <= 3 else None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")


def json_mode(model: SimulatedModel, body: dict[str, Any]) -> str | None:
    """How the model will answer in JSON: "raw" (structured output), "fenced" (chatter and a
    ```json block, for the tolerant extractor), or None for prose."""
    response_format = body.get("response_format") or {}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema" and model.supports_structured_output:
        return "raw"
    if kind == "json_object" or _asks_for_json(body.get("messages", [])):
        return "fenced"
    return None


def compose_reply(
    model: SimulatedModel, body: dict[str, Any], *, bad_json: bool = False, sampling: Sampling = CANONICAL
) -> Reply:
    """What the model says; a prose answer and its reasoning vary by the request's `sampling`
    (its temperature, and its seed or seat)."""
    messages: list[dict[str, Any]] = body.get("messages", [])
    question = last_user_text(messages)
    reasoning = write_reasoning(model.id, question, sampling=sampling) if model.sends_reasoning else ""
    if tool_calls := _tool_calls(model, body, question):
        return Reply(content=model.tool_preamble, reasoning=reasoning, tool_calls=tool_calls)
    mode = json_mode(model, body)
    if mode is not None:
        return Reply(content=_json_content(model, body, raw=mode == "raw", bad=bad_json), reasoning=reasoning)
    sources = _sources(messages)
    content = write_answer(
        model.id, question, answer_tokens=model.answer_tokens, sources=sources, sampling=sampling
    )
    return Reply(content=content, reasoning=reasoning)


def _asks_for_json(messages: list[dict[str, Any]]) -> bool:
    # The instruction lives in the system prompt or in the last message, depending on the caller.
    texts = [message_text(m) for m in messages if m.get("role") == "system"]
    if messages:
        texts.append(message_text(messages[-1]))
    return any(_ASKS_FOR_JSON.search(text) for text in texts)


# Tools.


def _tool_calls(model: SimulatedModel, body: dict[str, Any], question: str) -> tuple[ToolCall, ...]:
    """The calls the model makes to the tools it is offered, by its `tool_use` and the request's
    tool_choice; none once a tool has answered (one round, then the answer)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "function" in t]
    messages = body.get("messages", [])
    choice = body.get("tool_choice")
    if not tools or not model.supports_tools or choice == "none":
        return ()
    if any(message.get("role") == "tool" for message in messages):
        return ()
    names = [str(tool["function"].get("name", "")) for tool in tools]
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if named in names:
        chosen = [names.index(named)]
    elif model.tool_use == "all":
        chosen = list(range(len(tools)))
    elif choice == "required" or model.tool_use == "always" or _worth_a_tool(model, names, question):
        chosen = [next((i for i, name in enumerate(names) if name.startswith("web_search")), 0)]
    else:
        return ()
    query = " ".join(question.split())[:_MAX_QUERY]
    return tuple(
        ToolCall(
            id=f"call_{digest_int(model.id, question, names[index]):016x}",
            name=names[index],
            arguments=json.dumps(
                _tool_arguments(tools[index]["function"].get("parameters") or {}, query, model.id)
            ),
        )
        for index in chosen
    )


def _worth_a_tool(model: SimulatedModel, names: list[str], question: str) -> bool:
    """`tool_use` "auto": web search whenever it is offered (a seat researching, as before); any
    other tool (fusion) only for a real question of some length, so "hi" or "what is 2+2?" is
    answered directly in demo mode and a question worth a panel consults it."""
    if model.tool_use == "never":
        return False
    if any(name.startswith("web_search") for name in names):
        return True
    return question.rstrip().endswith("?") and len(question.split()) >= WORTH_A_TOOL_WORDS


def _tool_arguments(parameters: dict[str, Any], query: str, model_id: str) -> dict[str, Any]:
    properties = parameters.get("properties") or {}
    if not properties or "query" in properties:
        return {"query": query}
    arguments = SchemaFaker(parameters, seeded_random("tool", model_id, query)).instance()
    return arguments if isinstance(arguments, dict) else {"query": query}


def _sources(messages: list[dict[str, Any]]) -> list[str]:
    urls: list[str] = []
    for message in messages:
        if message.get("role") != "tool":
            continue
        for url in _URL.findall(message_text(message)):
            url = url.rstrip(".,;:")
            if url not in urls:
                urls.append(url)
    return urls[:_MAX_SOURCES]


# JSON.


def _json_content(model: SimulatedModel, body: dict[str, Any], *, raw: bool, bad: bool) -> str:
    messages = body.get("messages", [])
    prompt = "\n".join(message_text(message) for message in messages)
    name, schema = _requested_schema(body, messages)
    rng = seeded_random("json", model.id, last_user_text(messages))
    if schema is not None and is_analysis_schema(name, schema):
        value = AnalysisFaker(schema, rng, find_labels(prompt)).instance()
    elif schema is not None:
        value = SchemaFaker(schema, rng).instance()
    elif len(labels := find_labels(prompt)) >= 2:
        # Labelled answers and no schema: a judge asking for JSON in its own words.
        value = AnalysisFaker(DEFAULT_ANALYSIS_SCHEMA, rng, labels).instance()
    else:
        value = {
            "answer": write_answer(model.id, last_user_text(messages), answer_tokens=60).strip(),
            "confidence": round(0.55 + rng.random() * 0.4, 2),
        }
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if bad:
        # What a real model gets wrong most: output that stops before the JSON is closed.
        text = text[: max(1, len(text) * 2 // 3)]
    if raw:
        return text
    return f"Here is the result in the JSON format you asked for.\n\n```json\n{text}\n```\n"


def _requested_schema(
    body: dict[str, Any], messages: list[dict[str, Any]]
) -> tuple[str | None, dict[str, Any] | None]:
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        if isinstance(spec.get("schema"), dict):
            return spec.get("name"), spec["schema"]
    # Without structured output a judge spells the schema out in its prompt.
    for message in messages:
        if schema := _schema_in(message_text(message)):
            return None, schema
    return None, None


def _schema_in(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and ("properties" in value or "$defs" in value):
            return value
    return None
