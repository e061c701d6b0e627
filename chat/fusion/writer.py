"""The writer's prompt: the question, the judge's analysis and the answers, for one fused answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chat.fusion.analysis import Analysis, Wording, analysis_markdown
from chat.fusion.prompting import LabelledAnswer, render_answers, render_context
from chat.fusion.request import FusionRequest
from chat.providers.types import ChatRequest

WRITER_SYSTEM_PROMPT = """\
You write the final answer to the user's question. A panel of assistants answered it \
independently (Response A, Response B, ...) and a judge compared their answers. \
Build one answer that is better than any of them:
- keep what the responses rightly agree on;
- settle each contradiction as the judge's assessment does, or say the matter is open when it is;
- work in the unique insights that matter;
- cover the blind spots where you can do so reliably, and say so where you are unsure.

Answer the user directly, as your own answer: do not mention the panel, the responses, their \
letters or the judge. Keep the useful sources and links the responses give and invent none. \
Write in Markdown, in the language of the question."""


_WRITER_INSTRUCTIONS = "The user's instructions for the answer (form, length, audience); follow them:\n"


def with_instructions(messages: list[dict[str, Any]], instructions: str) -> list[dict[str, Any]]:
    """`messages` after the panel owner's instructions for the writer, when there are any: a system
    message of their own, so they read as the user's wishes, above the thread."""
    if not instructions:
        return messages
    return [{"role": "system", "content": _WRITER_INSTRUCTIONS + instructions}, *messages]


def build_writer_messages(
    question: str,
    thread: Sequence[dict[str, Any]],
    analysis: Analysis,
    answers: Sequence[LabelledAnswer],
    seat_labels: dict[int, str],
    instructions: str = "",
) -> list[dict[str, Any]]:
    user = (
        f"{render_context(question, thread)}\n\n"
        f"The judge's analysis:\n\n{render_analysis(analysis, seat_labels)}\n\n"
        f"The panel's responses:\n\n{render_answers(answers)}\n\n"
        "Write the final answer to the question."
    )
    system = WRITER_SYSTEM_PROMPT
    if instructions:
        system += f"\n\n{_WRITER_INSTRUCTIONS}{instructions}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def writer_request(request: FusionRequest, messages: list[dict[str, Any]]) -> ChatRequest:
    # No tools, ever: the fused answer stays grounded in what the panel and the judge said.
    return ChatRequest(model=request.writer_model, messages=messages, tools=None, **request.answer_options())


# The writer reads the responses by the labels the judge used, never by a model's name.
FOR_THE_WRITER = Wording(
    heading="##",
    held_by="{point} ({seats})",
    insight="{seat}: {insight} Why it matters: {why}",
    assessment="Judge's assessment",
    nobody="no response",
)


def render_analysis(analysis: Analysis, seat_labels: dict[int, str]) -> str:
    """The analysis as readable Markdown, naming responses by their labels as the judge did."""
    return analysis_markdown(analysis, lambda seat: f"Response {seat_labels.get(seat, '?')}", FOR_THE_WRITER)
