"""Reading the HTML the app renders, in tests, through Django's own parser."""

from __future__ import annotations

from collections.abc import Iterator

from django.test.html import Element, parse_html


def elements(node: Element | str) -> Iterator[Element]:
    """Every element under `node`, itself included, in document order."""
    if isinstance(node, str):
        return
    if node.name is not None:  # the parser's root has no name
        yield node
    for child in node.children:
        yield from elements(child)


def tags(markup: str) -> list[Element]:
    return list(elements(parse_html(markup)))


def attr(element: Element, name: str) -> str | None:
    return dict(element.attributes).get(name)


def text(node: Element | str) -> str:
    """The text a reader sees, white space folded."""
    if isinstance(node, str):
        return node
    return " ".join(" ".join(text(child) for child in node.children).split())
