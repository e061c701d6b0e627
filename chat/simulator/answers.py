"""Deterministic markdown answers: each model writes its own, and takes its own side."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from chat.simulator.phrasebook import (
    CLOSINGS,
    CODE_SNIPPETS,
    CONSENSUS_POINTS,
    COVERAGE_POINTS,
    DEBATES,
    DETAILS,
    INTROS,
    REASONING,
    TABLE_ROWS,
    UNIQUE_INSIGHTS,
    Debate,
)
from chat.simulator.sampling import CANONICAL, Choices, Sampling, digest_int, seeded_random
from chat.simulator.tokens import split_tokens

_SUBJECT_LENGTH = 72
_QUESTION_LINE = re.compile(r"^(?:#+\s*)?(?:the\s+)?(?:user'?s\s+)?question\s*[:\-]\s*(.*)$", re.IGNORECASE)


def subject_of(question: str) -> str:
    """A heading-sized phrase for what the question is about."""
    lines = [line.strip() for line in question.splitlines() if line.strip()]
    if not lines:
        return "Your question"
    candidate = next((line for line in lines if line.endswith("?")), lines[0])
    for position, line in enumerate(lines):
        if match := _QUESTION_LINE.match(line):
            following = lines[position + 1] if position + 1 < len(lines) else ""
            candidate = match.group(1).strip() or following or candidate
            break
    candidate = candidate.lstrip("#-*> \"'").rstrip("?.!:\"' ")
    if len(candidate) > _SUBJECT_LENGTH:
        candidate = candidate[:_SUBJECT_LENGTH].rsplit(" ", 1)[0] + "…"
    return (candidate[:1].upper() + candidate[1:]) or "Your question"


def position_of(model_id: str, debate: Debate) -> str:
    # A model's side depends on the model and the debate only: its "personality" is stable.
    return debate.positions[digest_int(model_id, debate.topic) % len(debate.positions)]


def debates_for(question: str, count: int = 2) -> list[Debate]:
    # Seeded by the question alone, so every model argues about the same things.
    return seeded_random("debates", question).sample(DEBATES, count)


def stance_on(debate: Debate, model_id: str, own: Choices) -> str:
    # Up to temperature 1 the side is the model's (position_of), whatever the seat or seed: a
    # judge still finds the same models disagreeing. Hotter, it may argue another side.
    fresh = own.fresh(f"stance on {debate.topic}", above=1.0)
    return position_of(model_id, debate) if fresh is None else fresh.choice(debate.positions)


def write_reasoning(model_id: str, question: str, *, sampling: Sampling = CANONICAL) -> str:
    debate = debates_for(question)[0]
    thinking = Choices(sampling, "reasoning", model_id, question)
    template = thinking.make("template", lambda r: r.choice(REASONING))
    stance = stance_on(debate, model_id, Choices(sampling, model_id, question))
    return template.format(subject=subject_of(question).lower(), topic=debate.topic, position=stance)


def write_answer(
    model_id: str,
    question: str,
    *,
    answer_tokens: int,
    sources: Sequence[str] = (),
    sampling: Sampling = CANONICAL,
) -> str:
    """The model's markdown answer, of roughly `answer_tokens` tokens (whole sections, never cut),
    as the request's temperature and seed (or its panel seat) sample it (chat.simulator.sampling)."""
    shared = seeded_random("question", question)
    own = Choices(sampling, model_id, question)
    debates = debates_for(question)
    consensus = shared.sample(CONSENSUS_POINTS, 4)
    coverage = shared.sample(COVERAGE_POINTS, 4)

    head = [f"## {subject_of(question)}", own.make("intro", lambda r: r.choice(INTROS))]
    if sources:
        head.append("I checked the search results before answering; they shaped the points below.")
    tail = [own.make("closing", lambda r: r.choice(CLOSINGS))]
    if sources:
        tail.append("### Sources\n\n" + "\n".join(f"- [{_link_text(url)}]({url})" for url in sources))

    estimate = own.make("estimate", lambda r: r.randint(8, 45))
    stance = " ".join(stance_on(debate, model_id, own) for debate in debates)
    bullets = own.make("agreed points", lambda r: [point for point in consensus if r.random() > 0.2])
    bullets = bullets or consensus[:1]
    bullets += own.make("coverage", lambda r: r.sample(coverage, 2))
    bullets.append(own.make("insight", lambda r: r.choice(UNIQUE_INSIGHTS)))
    body = [
        f"### Where I come down\n\n{stance} I would expect an improvement of roughly {estimate}% "
        "over the status quo if the pilot goes well.",
        "### Key points\n\n" + "\n".join(f"- {bullet}" for bullet in bullets),
    ]
    if own.make("has a table", lambda r: r.random() < 0.4):
        body.append(own.make("table", _comparison_table))
    if own.make("has code", lambda r: r.random() < 0.5):
        language, code = own.make("code", lambda r: r.choice(CODE_SNIPPETS))
        body.append(f"A small sketch of how I would compare the options:\n\n```{language}\n{code}\n```")
    details = own.make("details", lambda r: r.sample(DETAILS, len(DETAILS)))

    sections = list(head)
    budget = answer_tokens - _count(head) - _count(tail)
    for section in _sections_in_order(body, details):
        if budget <= 0:
            break
        sections.append(section)
        budget -= _count([section])
    return "\n\n".join(sections + tail) + "\n"


def _comparison_table(own: random.Random) -> str:
    levels = ("low", "medium", "high")
    rows = [
        f"| {option} | {own.choice(levels)} | {own.choice(levels)} | {own.choice(levels)} |"
        for option in TABLE_ROWS
    ]
    return "### Options at a glance\n\n| Option | Cost | Risk | Speed |\n|---|---|---|---|\n" + "\n".join(
        rows
    )


def _sections_in_order(body: list[str], details: list[str]) -> list[str]:
    # Long answers repeat the detail paragraphs; the cap keeps a huge answer_tokens finite.
    return body + [details[index % len(details)] for index in range(200)]


def _count(sections: list[str]) -> int:
    return sum(len(split_tokens(section)) for section in sections)


def _link_text(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc + parts.path).rstrip("/") or url
