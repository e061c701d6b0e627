"""The judge: its wire schema, its prompt, tolerant parsing, one repair, and the mapping to seats."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chat.fusion.analysis import Analysis, ConsensusPoint, Contradiction, CoveragePoint, Stance, UniqueInsight
from chat.fusion.calls import Clock, ModelCall
from chat.fusion.events import AnalysisFailed, AnalysisReady, CallStats, JudgeFailure
from chat.fusion.prompting import LabelledAnswer, render_answers, render_context
from chat.fusion.request import FusionRequest
from chat.providers.protocol import ModelClient
from chat.providers.types import ChatRequest


class _Wire(BaseModel):
    # Forbidding extras makes the JSON schema strict-mode ready (additionalProperties: false).
    model_config = ConfigDict(extra="forbid")


class JudgeConsensus(_Wire):
    point: str = Field(description="A point most responses make, in one sentence.")
    responses: list[str] = Field(description='Labels of the responses that make it, e.g. ["A", "B"].')


class JudgeStance(_Wire):
    response: str = Field(description='The label of one response, e.g. "B".')
    stance: str = Field(description="What that response claims on the topic.")


class JudgeContradiction(_Wire):
    topic: str = Field(description="What the responses disagree about.")
    stances: list[JudgeStance]
    assessment: str = Field(description="Which stance is right, or best supported, and why.")


class JudgeCoverage(_Wire):
    point: str = Field(description="A relevant point only some responses cover.")
    responses: list[str] = Field(description="Labels of the responses that cover it.")


class JudgeInsight(_Wire):
    response: str = Field(description="The label of the one response that makes this point.")
    insight: str
    why_it_matters: str


class JudgeOutput(_Wire):
    """The analysis exactly as the judge writes it: responses named by label, never by model."""

    consensus: list[JudgeConsensus]
    contradictions: list[JudgeContradiction]
    partial_coverage: list[JudgeCoverage]
    unique_insights: list[JudgeInsight]
    blind_spots: list[str] = Field(description="What every response missed.")


class JudgeOutputError(ValueError):
    """The judge's reply is not a valid analysis; the message says what is wrong, `kind` what sort."""

    def __init__(self, message: str, kind: JudgeFailure = "not_valid_json") -> None:
        super().__init__(message)
        self.kind: JudgeFailure = kind


# Labels A and B only: every panel has at least two answers, so the example never names one that is absent.
_EXAMPLE = JudgeOutput(
    consensus=[JudgeConsensus(point="<a point most responses make>", responses=["A", "B"])],
    contradictions=[
        JudgeContradiction(
            topic="<what they disagree about>",
            stances=[
                JudgeStance(response="A", stance="<A's claim>"),
                JudgeStance(response="B", stance="<B's claim>"),
            ],
            assessment="<which claim is right, or best supported, and why>",
        )
    ],
    partial_coverage=[JudgeCoverage(point="<a point only some cover>", responses=["B"])],
    unique_insights=[
        JudgeInsight(response="A", insight="<what only A says>", why_it_matters="<why the user should care>")
    ],
    blind_spots=["<something every response missed>"],
)

JUDGE_SYSTEM_PROMPT = f"""\
You are the judge of a panel. Several assistants answered the same question independently. \
Their answers are labelled Response A, Response B, and so on; you are not told who wrote which, \
so weigh every claim on its merits alone.

Compare the responses and report:
- consensus: points most responses make, with the labels of every response that makes each one;
- contradictions: topics on which responses disagree, each response's stance, and your assessment \
of which stance is right (or best supported) and why; say so plainly when the evidence cannot settle it;
- partial_coverage: relevant points only some responses cover, with their labels;
- unique_insights: a point only one response makes that genuinely matters, and why it matters; \
leave out trivia;
- blind_spots: what every response missed that a thorough answer to the question needs.

Check the facts yourself: a claim several responses share can still be wrong, and then it belongs \
in contradictions or blind spots, not in consensus. Refer to responses only by their letter ("A", "B"). \
Be specific and brief: one sentence per point. Use an empty list where nothing applies. \
Do not write the final answer; another step does that.

Reply with one JSON object and nothing else, shaped like this example:
{_EXAMPLE.model_dump_json(indent=2)}"""

REPAIR_PROMPT = """\
Your reply could not be used: {error}

Reply again with the corrected analysis: one JSON object in the shape described at the start, \
and nothing else: no commentary, no code fence."""


def build_judge_messages(
    question: str, thread: Sequence[dict[str, Any]], answers: Sequence[LabelledAnswer], instructions: str = ""
) -> list[dict[str, Any]]:
    # The owner's instructions say what to scrutinise; the JSON shape above stays the contract.
    asked = f"The user asks you to scrutinise in particular:\n{instructions}\n\n" if instructions else ""
    user = (
        f"{render_context(question, thread)}\n\n"
        f"The panel's {len(answers)} responses:\n\n{render_answers(answers)}\n\n"
        f"{asked}Compare the responses and reply with the analysis as one JSON object."
    )
    return [{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def build_repair_messages(
    messages: Sequence[dict[str, Any]], bad_output: str, error: str
) -> list[dict[str, Any]]:
    """The judge's conversation, its unusable reply, and a request for corrected JSON only."""
    return [
        *messages,
        {"role": "assistant", "content": bad_output},
        {"role": "user", "content": REPAIR_PROMPT.format(error=error)},
    ]


def response_format_for_judge() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "fusion_analysis", "strict": True, "schema": JudgeOutput.model_json_schema()},
    }


# Thinking comes before the answer; "<think>" further on may be text inside the object itself.
_THINKING = re.compile(r"\A\s*(?:<think>.*?</think>\s*)+", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in a reply, whether bare, fenced, or surrounded by chatter.

    Tries, in order: the whole reply, each ``` fenced block, then the first `{` from which a
    complete object decodes. Raises JudgeOutputError when there is none.
    """
    # Some local reasoning models put their thinking in the content; it may hold stray braces.
    # Look without it first, then in the whole reply, in case what looked like thinking was not.
    without_thinking = _THINKING.sub("", text, count=1).strip()
    for version in dict.fromkeys([without_thinking, text]):
        found = _object_in(version)
        if found is not None:
            return found
    raise JudgeOutputError("the reply contains no JSON object")


def _object_in(text: str) -> dict[str, Any] | None:
    candidates = [text, *(block.strip() for block in _FENCE.findall(text))]
    for candidate in candidates:
        found = _loads_object(candidate)
        if found is not None:
            return found
    return _first_object_in(text)


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _first_object_in(text: str) -> dict[str, Any] | None:
    # raw_decode reads one value and ignores what follows, and it understands braces inside
    # strings, so it finds a balanced object where counting braces would not.
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def parse_judge_output(text: str) -> JudgeOutput:
    """Read the judge's reply; raises JudgeOutputError saying what is wrong with it."""
    data = extract_json(text)
    try:
        return JudgeOutput.model_validate(data)
    except ValidationError as error:
        raise JudgeOutputError(
            f"the JSON does not match the analysis schema: {_summarise(error)}", "schema_mismatch"
        ) from error


def _summarise(error: ValidationError, limit: int = 5) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'the object'}: {problem['msg']}"
        for problem in error.errors()
    ]
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def to_analysis(output: JudgeOutput, label_to_seat: dict[str, int]) -> Analysis:
    """Attribute the judge's points to seats; unknown labels are dropped, repeats counted once.

    A point whose labels are all unknown keeps its text with no seats: what the judge said still
    holds. A stance or an insight needs its one author, so without a known label it is dropped.
    """
    seats = _SeatLookup(label_to_seat)
    named = _SeatNamer(label_to_seat)
    return Analysis(
        consensus=[
            ConsensusPoint(point=named(c.point), seats=seats.many(c.responses)) for c in output.consensus
        ],
        contradictions=[
            Contradiction(
                topic=named(c.topic),
                stances=_stances(c.stances, seats, named),
                assessment=named(c.assessment),
            )
            for c in output.contradictions
        ],
        partial_coverage=[
            CoveragePoint(point=named(p.point), seats=seats.many(p.responses))
            for p in output.partial_coverage
        ],
        unique_insights=[
            UniqueInsight(seat=seat, insight=named(u.insight), why_it_matters=named(u.why_it_matters))
            for u in output.unique_insights
            if (seat := seats.one(u.response)) is not None
        ],
        blind_spots=[named(spot) for spot in output.blind_spots],
    )


class _SeatNamer:
    """Rewrites "Response B" in the judge's prose as "seat #2", the name the reader sees."""

    _MENTION = re.compile(r"\bResponse ([A-Z])\b")

    def __init__(self, label_to_seat: dict[str, int]) -> None:
        self._seats = {_normalise_label(label): seat for label, seat in label_to_seat.items()}

    def __call__(self, text: str) -> str:
        def name(match: re.Match[str]) -> str:
            seat = self._seats.get(_normalise_label(match.group(1)))
            return match.group(0) if seat is None else f"seat #{seat + 1}"

        return self._MENTION.sub(name, text)


def _stances(stances: Iterable[JudgeStance], seats: _SeatLookup, named: _SeatNamer) -> list[Stance]:
    kept: dict[int, Stance] = {}
    for stance in stances:
        seat = seats.one(stance.response)
        # One stance per seat: the first wins, as the judge listed them.
        if seat is not None and seat not in kept:
            kept[seat] = Stance(seat=seat, stance=named(stance.stance))
    return list(kept.values())


class _SeatLookup:
    def __init__(self, label_to_seat: dict[str, int]) -> None:
        self._seats = {_normalise_label(label): seat for label, seat in label_to_seat.items()}

    def one(self, label: str) -> int | None:
        return self._seats.get(_normalise_label(label))

    def many(self, labels: Iterable[str]) -> list[int]:
        found = (self.one(label) for label in labels)
        return list(dict.fromkeys(seat for seat in found if seat is not None))


def _normalise_label(label: str) -> str:
    # Judges sometimes echo the heading ("Response A") or change case; the letter is what counts.
    label = label.strip()
    if label.lower().startswith("response"):
        label = label[len("response") :]
    return label.strip(" .:()[]\"'").upper()


async def judge(
    client: ModelClient,
    request: FusionRequest,
    answers: Sequence[LabelledAnswer],
    label_to_seat: dict[str, int],
    clock: Clock,
) -> AnalysisReady | AnalysisFailed:
    """Ask the judge for the analysis; on an unusable reply, ask once more to repair it."""
    messages = build_judge_messages(
        request.question, request.messages[:-1], answers, request.options.judge_instructions
    )
    first = _judge_call(client, request, messages, clock)
    text = await first.collect()
    if first.failure is not None:
        return AnalysisFailed(
            reason=f"The judge ({request.judge}) failed: {first.failure}",
            kind="upstream_error",
            stats=first.stats(),
        )
    try:
        return _ready(text, label_to_seat, first.stats())
    except JudgeOutputError as error:
        problem = str(error)

    repair = _judge_call(client, request, build_repair_messages(messages, text, problem), clock)
    repaired = await repair.collect()
    if repair.failure is not None:
        reason = f"The judge's reply was unusable ({problem}) and the repair request failed: {repair.failure}"
        return AnalysisFailed(
            reason=reason, kind="upstream_error", stats=first.stats(), repair_stats=repair.stats()
        )
    try:
        return _ready(repaired, label_to_seat, first.stats(), repair.stats())
    except JudgeOutputError as error:
        reason = f"The judge's reply was unusable even after one repair attempt: {error}."
        kind = "empty_completion" if not repaired.strip() else error.kind
        return AnalysisFailed(reason=reason, kind=kind, stats=first.stats(), repair_stats=repair.stats())


def _ready(
    text: str, label_to_seat: dict[str, int], stats: CallStats, repair_stats: CallStats | None = None
) -> AnalysisReady:
    analysis = to_analysis(parse_judge_output(text), label_to_seat)
    return AnalysisReady(analysis=analysis, stats=stats, repair_stats=repair_stats)


def _judge_call(
    client: ModelClient, request: FusionRequest, messages: list[dict[str, Any]], clock: Clock
) -> ModelCall:
    info = request.catalog.get(request.judge)
    structured = info is not None and info.supports_structured_output
    chat = ChatRequest(
        model=request.judge,
        messages=messages,
        # The analysis should be the same reading every time, not a creative one.
        temperature=0,
        max_tokens=request.max_tokens,
        response_format=response_format_for_judge() if structured else None,
    )
    return ModelCall(client, chat, info, clock, request.limits)
