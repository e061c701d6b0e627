"""Template filters for the chat: safe markdown, and figures people can read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils.safestring import SafeString, mark_safe

from chat.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # render_markdown escapes raw HTML and sanitises the result, so marking it safe is sound.
    return mark_safe(render_markdown(text or ""))  # noqa: S308


@register.filter
def index(items: Any, position: int) -> Any:
    try:
        return items[int(position)]
    except (IndexError, TypeError, ValueError):
        return None


@register.filter
def seconds(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "—"
    return f"{milliseconds / 1000:.1f} s"


@register.filter
def dollars(cost: float | None) -> str:
    if cost is None:
        return "—"
    if cost and cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.4f}"


@register.filter
def thousands(number: int | None) -> str:
    return "—" if number is None else f"{number:,}"


@register.filter
def all_answered(answers: Any) -> bool:
    """Whether every seat has an answer to keep: then a retry only judges and fuses again."""
    answers = list(answers or [])
    return bool(answers) and all(answer.status in ("done", "incomplete") for answer in answers)


@register.filter
def web_url(url: str) -> str:
    """The URL when it is http(s), else empty: a source link must never run anything."""
    try:
        scheme = urlsplit(str(url)).scheme.lower()
    except ValueError:
        return ""
    return str(url) if scheme in ("http", "https") else ""


@register.filter
def host(url: str) -> str:
    try:
        return urlsplit(str(url)).hostname or ""
    except ValueError:
        return ""


@register.filter
def host_and_path(url: str) -> str:
    """example.org/some/page, as the tool activity says what a seat read."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return str(url)
    return f"{parts.hostname or ''}{parts.path}" if parts.hostname else str(url)
