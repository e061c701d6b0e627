"""Model Markdown put inside a document of ours, its headings demoted below the document's own."""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt

# The Markdown export's own sections use levels 1 to 4 (title, turn, seat or run, analysis part);
# a model's headings start at 5, so none ranks with "Turn 1", "Seat 1" or "Fused answer".
FLOOR = 5
_DEEPEST = 6
# An ATX heading's opening hashes, after whatever list or quote markers contain it.
_SETEXT_UNDERLINE = re.compile(r"[=-]+[ \t]*$")
_ATX_OPENING = re.compile(r"^((?:[ \t]*(?:>|[-*+]|\d{1,9}[.)])?[ \t]*)*?)(#{1,6})(?=[ \t]|$)")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def demote_headings(text: str, floor: int = FLOOR) -> str:
    """The text with every heading moved down so that its highest lands at `floor` (at most h6),
    keeping their order of rank; Setext headings (a line under `===` or `---`) become ATX ones.
    Code blocks and everything else are left as they are."""
    tokens = _parser().parse(text)
    headings = [token for token in tokens if token.type == "heading_open" and token.map]
    if not headings:
        return text
    shift = max(0, floor - min(int(token.tag[1]) for token in headings))
    lines = text.split("\n")
    dropped: set[int] = set()
    for token in headings:
        assert token.map is not None
        start, end = token.map
        level = min(_DEEPEST, int(token.tag[1]) + shift)
        if token.markup.startswith("#"):
            opening = _ATX_OPENING.match(lines[start])
            if opening is not None:
                lines[start] = opening.group(1) + "#" * level + lines[start][opening.end() :]
        elif token.level == 0:
            # Setext: its text may take several lines; an ATX heading takes one.
            words = " ".join(line.strip() for line in lines[start : end - 1])
            lines[start] = "#" * level + " " + words
            dropped.update(range(start + 1, end))
        else:
            # Setext inside a list or a quote: without its underline (the quote or list marker
            # kept) the text stays, as a paragraph that ranks with nothing.
            lines[end - 1] = _SETEXT_UNDERLINE.sub("", lines[end - 1])
    return "\n".join(line for number, line in enumerate(lines) if number not in dropped)
