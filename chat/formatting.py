"""How figures and model names read to people, one way for pages, exports and the terminal."""

from __future__ import annotations

import re

UNKNOWN = "—"


def dollars(cost: float | None, *, unknown: str = UNKNOWN, mark_tiny: bool = True) -> str:
    """$0.0125, or `unknown` when the cost is not known.

    A cost that is not nothing but rounds to $0.0000 reads "<$0.0001", unless `mark_tiny` is off:
    the Markdown export and the terminal have always printed it rounded.
    """
    if cost is None:
        return unknown
    if mark_tiny and cost and cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.4f}"


def seconds(milliseconds: float | None, *, places: int = 1, spaced: bool = True) -> str:
    """A duration given in milliseconds as seconds, "9.1 s" (or "9.10s": the terminal's is tighter)."""
    if milliseconds is None:
        return UNKNOWN
    return f"{milliseconds / 1000:.{places}f}{' s' if spaced else 's'}"


def thousands(number: int | None) -> str:
    return UNKNOWN if number is None else f"{number:,}"


# A prompt longer than this is shown by its first lines, the rest behind "Show all": a pasted
# document must not push its run many screens down.
PROMPT_PREVIEW_LINES = 8
PROMPT_PREVIEW_CHARS = 800


def prompt_preview(text: str) -> str | None:
    """The first lines of a long prompt, or None when the prompt is short enough to show whole."""
    lines = text.splitlines()
    if len(text) <= PROMPT_PREVIEW_CHARS + 200 and len(lines) <= PROMPT_PREVIEW_LINES + 4:
        return None
    head = "\n".join(lines[:PROMPT_PREVIEW_LINES])
    return head if len(head) <= PROMPT_PREVIEW_CHARS else head[:PROMPT_PREVIEW_CHARS]


# A model's id ends in words that say when or how it was released, not which model it is.
_RELEASE_TAIL = re.compile(r"-(?:preview|latest|exp)(?:-\d{2}-\d{2})?$|-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


def short_model_name(model: str) -> str:
    """A model id as a seat's name: "google/gemini-3-flash-preview" reads "gemini-3-flash"."""
    name = model.rsplit("/", 1)[-1]
    while shorter := _RELEASE_TAIL.sub("", name):
        if shorter == name:
            break
        name = shorter
    return name or model


def seat_labels(models: list[str]) -> list[str]:
    """Each seat's short name; seats whose short names are the same are lettered in order
    ("kimi-k2.6 · A", "kimi-k2.6 · B"), so twins differ by more than their number."""
    names = [short_model_name(model) for model in models]
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        if names.count(name) == 1:
            labels.append(name)
            continue
        seen[name] = seen.get(name, 0) + 1
        labels.append(f"{name} · {_letter(seen[name])}")
    return labels


def _letter(number: int) -> str:
    """A, B, ... Z, then 27, 28: a panel of more than 26 twins is not worth letters."""
    return chr(ord("A") + number - 1) if number <= 26 else str(number)
