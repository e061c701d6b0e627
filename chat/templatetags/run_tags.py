"""Template tags of a run's page: the DOM ids frames address (chat.runs.protocol) and live columns."""

from __future__ import annotations

from typing import Any

from django import template

from chat.runs import protocol

register = template.Library()


@register.simple_tag
def run_id(run_pk: int, part: str = "run") -> str:
    """`{% run_id run.pk "progress" %}`: the id of a part of a run's page."""
    return protocol.run_dom_id(run_pk, part)


@register.simple_tag
def column_id(run_pk: int, column: int | str, part: str = "") -> str:
    """`{% column_id run.pk answer.index "blocks" %}`, or `"fused"` for the fused answer's column."""
    return protocol.column_dom_id(run_pk, column, part)


@register.simple_tag
def socket_url(run_pk: int) -> str:
    return protocol.socket_url(run_pk)


@register.simple_tag
def conversation_socket_url(conversation_pk: int) -> str:
    return protocol.conversation_socket_url(conversation_pk)


@register.simple_tag
def run_news_id() -> str:
    return protocol.RUN_NEWS_ID


@register.filter
def live_view(live: dict[Any, Any] | None, column: int | str) -> Any:
    """The streaming view of a column (chat.runs.frames.LiveView) in a live render, else None."""
    return (live or {}).get(column)
