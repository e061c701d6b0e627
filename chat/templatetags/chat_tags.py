"""Template filters for the chat: safe markdown, Markdown quotes, and figures people can read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import template
from django.utils.safestring import SafeString, mark_safe

from chat import formatting
from chat.headings import demote_headings
from chat.models import Run, SeatAnswer
from chat.rendering import neutralize_bidi, render_answer, render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # render_markdown escapes raw HTML and sanitises the result, so marking it safe is sound.
    return mark_safe(render_markdown(text or ""))  # noqa: S308


@register.filter
def answer_html(answer: SeatAnswer) -> SafeString:
    """A seat's answer as HTML: the kept rendering once final, else its text rendered now."""
    # Both come from chat.rendering (never from outside: imports render again), so safe.
    return mark_safe(answer.html or render_answer(answer.text or ""))  # noqa: S308


@register.filter
def fused_html(run: Run) -> SafeString:
    """The run's fused answer as HTML, like answer_html."""
    return mark_safe(run.fused_html or render_answer(run.fused_text or ""))  # noqa: S308


@register.filter
def bidi_safe(text: Any) -> str:
    """Text (a model name, above all) with bidirectional overrides shown as U+FFFD, so a name
    cannot pass for another; autoescaping still applies."""
    return neutralize_bidi(str(text))


@register.filter
def index(items: Any, position: int) -> Any:
    try:
        return items[int(position)]
    except (IndexError, TypeError, ValueError):
        return None


@register.filter
def seconds(milliseconds: float | None) -> str:
    return formatting.seconds(milliseconds)


@register.filter
def dollars(cost: float | None) -> str:
    return formatting.dollars(cost)


@register.filter
def rounded_dollars(cost: float | None, unknown: str = formatting.UNKNOWN) -> str:
    """Dollars as the Markdown export has always shown them: a tiny cost rounds to $0.0000."""
    return formatting.dollars(cost, unknown=unknown, mark_tiny=False)


@register.filter
def thousands(number: int | None) -> str:
    return formatting.thousands(number)


@register.filter
def blockquote(text: str) -> str:
    """Text as a Markdown quote, every line of it: a prompt cannot start a heading of the export."""
    return "\n".join(f"> {line}" if line else ">" for line in str(text).splitlines())


@register.filter
def demoted_headings(text: str) -> str:
    """Model Markdown whose headings rank below the export's own sections (chat.headings)."""
    return demote_headings(str(text))


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
