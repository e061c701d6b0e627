"""Text shared by the judge's and the writer's prompts: labels, the thread, the answers."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

# (label, text): an answer as the judge and the writer see it, with no model name attached.
LabelledAnswer = tuple[str, str]


def label_for(index: int) -> str:
    """ "A" for the first answer, "B" for the second...; a panel has at most eight seats."""
    return string.ascii_uppercase[index]


def render_thread(thread: Sequence[dict[str, Any]]) -> str:
    """The conversation before the question, as a plain transcript ("" when there is none)."""
    lines = [
        f"{str(message.get('role', 'user')).capitalize()}: {content_text(message)}" for message in thread
    ]
    return "\n\n".join(lines)


def content_text(message: dict[str, Any]) -> str:
    """A chat message's text, whether its content is a string or a list of typed parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def render_answers(answers: Sequence[LabelledAnswer]) -> str:
    # Explicit start and end markers: an answer's own markdown headings cannot blur the borders.
    blocks = [
        f"--- Response {label} ---\n{text.strip()}\n--- end of Response {label} ---"
        for label, text in answers
    ]
    return "\n\n".join(blocks)


def render_context(question: str, thread: Sequence[dict[str, Any]]) -> str:
    transcript = render_thread(thread)
    earlier = f"The conversation so far:\n\n{transcript}\n\n" if transcript else ""
    return f"{earlier}The question:\n\n{question.strip()}"
