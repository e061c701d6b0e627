"""Plain text out of HTML fragments and pages, with nothing a model should not be shown."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "head"})
_BLOCKS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
        "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "dd", "dt", "hr", "main", "nav",
    }
)  # fmt: skip
# C0/C1 controls other than tab and newline, and the Unicode noncharacters lxml emits for NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


class _Stripper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skipping:
            self.parts.append(data)


def strip_tags(html: str) -> tuple[str, str]:
    """The (title, text) of an HTML page or fragment, tags and scripts dropped, entities decoded."""
    stripper = _Stripper()
    stripper.feed(html)
    stripper.close()
    return one_line("".join(stripper.title_parts)), clean_text("".join(stripper.parts))


def clean_text(text: str) -> str:
    """Control characters removed, runs of spaces and of blank lines collapsed."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line with single spaces, cut to `limit` characters with an ellipsis."""
    flat = " ".join(_CONTROL.sub("", text).split())
    if limit is not None and len(flat) > limit:
        return flat[: limit - 1].rstrip() + "…"
    return flat
