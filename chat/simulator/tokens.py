"""Cutting text into streamed tokens and counting what a request costs."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from chat.simulator.config import SimulatedModel

# A token is a word piece with its leading whitespace: joined back, the pieces give the text.
_TOKEN = re.compile(r"\s*\S{1,6}|\s+")


def split_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def message_text(message: dict[str, Any]) -> str:
    """The text a message carries, whether content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and "text" in part
        )
    return ""


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    # The usual rule of thumb: about four characters per token, tool calls included.
    characters = 0
    for message in messages:
        characters += len(message_text(message))
        if tool_calls := message.get("tool_calls"):
            characters += len(json.dumps(tool_calls))
    return max(1, math.ceil(characters / 4))


def usage(model: SimulatedModel, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "cost": model.cost_of(prompt_tokens, completion_tokens),
    }
