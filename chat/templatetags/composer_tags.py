"""Template filters of the composer and the prompts it sends."""

from __future__ import annotations

from django import template

from chat import formatting

register = template.Library()


@register.filter
def prompt_preview(text: str) -> str | None:
    return formatting.prompt_preview(text or "")
