"""{% pk_url %}: the links of a list's many rows, each route reversed once rather than per row."""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.urls import URLResolver, get_resolver, get_script_prefix, get_urlconf, reverse

register = template.Library()

# A pk no row has, reversed in place of the real one and then replaced by it. Digits only, as a
# pk is, so the reversed path quotes it the same way; long enough not to occur anywhere else in
# a path (a script prefix, a route's fixed text).
_STAND_IN = "9072518364150"


@lru_cache(maxsize=64)
def _route(name: str, resolver: URLResolver, prefix: str) -> tuple[str, str] | None:
    """The path of `name` around its pk argument, for this URLconf and script prefix; None when
    the stand-in does not split it in two (then each row is reversed)."""
    del resolver, prefix  # the cache's key: reverse() reads both from where they are set
    parts = reverse(name, args=[_STAND_IN]).split(_STAND_IN)
    return (parts[0], parts[1]) if len(parts) == 2 else None


@register.simple_tag
def pk_url(name: str, pk: int) -> str:
    """reverse(name, args=[pk]), from the route reversed once and the pk put in its place.

    The sidebar lists fifty conversations with five links each: 250 reverse() calls a page, each
    walking the resolver's candidates and quoting its arguments again (bench/README.md, round 3).
    Keyed by what reverse() depends on: the URLconf (a test may swap it: a new resolver) and the
    script prefix (each request sets it)."""
    found = _route(name, get_resolver(get_urlconf()), get_script_prefix())
    if found is None:
        return reverse(name, args=[pk])
    head, tail = found
    return f"{head}{int(pk)}{tail}"
