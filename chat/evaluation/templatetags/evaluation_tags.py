"""Figures as the report shows them: a dash where there is none."""

from __future__ import annotations

import math

from django import template

register = template.Library()
NONE = "—"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@register.filter
def score(value: float | None) -> str:
    return NONE if _missing(value) else f"{value:.1f}"


@register.filter
def percent(value: float | None) -> str:
    """A rate in 0..1 as a percentage."""
    return NONE if value is None or _missing(value) else f"{value * 100:.0f}%"


@register.filter
def usd(value: float | None) -> str:
    if value is None or _missing(value):
        return NONE
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


@register.filter
def seconds(value: float | None) -> str:
    return NONE if value is None or _missing(value) else f"{value:.1f} s"


@register.filter
def signed(value: float | None) -> str:
    return NONE if value is None or _missing(value) else f"{value:+.1f}"
