"""The panels FusionRoom ships with: migration 0002 seeds a copy, the admin edits them after.

Tests use this list to put the presets back after a transactional test has emptied the tables.
"""

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
