"""The panels FusionRoom ships with; the data migration seeds them and the admin edits them after."""

from __future__ import annotations

from typing import TypedDict


class PresetPanel(TypedDict):
    slug: str
    name: str
    seats: list[str]
    judge: str


PRESETS: list[PresetPanel] = [
    {
        "slug": "quality",
        "name": "Quality",
        "seats": ["anthropic/claude-opus-4.8", "openai/gpt-5.5", "google/gemini-3.1-pro-preview"],
        "judge": "anthropic/claude-opus-4.8",
    },
    {
        "slug": "budget",
        "name": "Budget",
        "seats": ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"],
        "judge": "google/gemini-3-flash-preview",
    },
]


def preset_by_slug(slug: str) -> PresetPanel:
    for preset in PRESETS:
        if preset["slug"] == slug.lower():
            return preset
    names = ", ".join(p["slug"] for p in PRESETS)
    raise KeyError(f"No preset called {slug!r}; the presets are: {names}")
