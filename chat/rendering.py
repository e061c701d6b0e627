"""The one way model output becomes HTML: markdown without raw HTML, highlighted, then sanitised."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import lru_cache
from html import escape

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "div",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
    # Pygments marks tokens with short class names; classes are allowed only on these.
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
}
_LINK_SCHEMES = {"http", "https", "mailto"}
# Each block takes its direction from its own first strong letter: an Arabic paragraph reads
# right-to-left next to an English one, and a list item next to code, whatever the page's direction.
_AUTO_DIRECTION = {
    tag: {"dir": "auto"} for tag in ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "th")
}
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip()) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes the code itself when we return nothing
    return highlight(code, lexer, _FORMATTER)


def _image_as_link(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # An <img> pointing elsewhere would let a model exfiltrate data through its URL the
    # moment the answer is shown; a link needs a click, and says where it goes.
    token = tokens[idx]
    src = escapeHtml(str(token.attrs.get("src", "")))
    alt = self.renderInline(token.children or [], options, env) or "image"
    return f'<a href="{src}">Image: {alt}</a>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight, "linkify": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    return md


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_LINK_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}, **_AUTO_DIRECTION},
        strip_comments=True,
    )


# markdown-it aligns table cells with a style attribute, which the sanitiser drops (no style
# survives); the old align attribute says the same and is allowed.
_CELL_ALIGN = re.compile(r'<(td|th) style="text-align:(left|right|center)">')


# Bidirectional embeddings, overrides and isolates reorder the text around them: a model name or
# an answer could show "gpt-4" for what reads otherwise, or make code look unlike what it is.
# Each becomes U+FFFD, so a reader sees that something was there and nothing is reordered.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BIDI_TABLE = dict.fromkeys(map(ord, BIDI_CONTROLS), "\ufffd")


def neutralize_bidi(text: str) -> str:
    """The text with every bidirectional override, embedding and isolate shown as U+FFFD."""
    return text.translate(_BIDI_TABLE)


def render_markdown(text: str) -> str:
    """Safe HTML for untrusted markdown: no raw HTML, only http(s)/mailto links, no images."""
    html = _markdown().render(neutralize_bidi(text))
    return sanitize(_CELL_ALIGN.sub(r'<\1 align="\2">', html))


# What one call of render_markdown may be given while a stream is shown, and for a finished answer
# longer than WHOLE_LIMIT: markdown-it costs up to ~15 µs a character on hostile text ("[[[["),
# so a block of BLOCK_LIMIT costs at most a few tens of milliseconds, wherever it runs.
BLOCK_LIMIT = 2_000
# A finished answer up to this length is rendered whole (lists and links that span blocks join
# up); a longer one is rendered block by block, which costs time linear in its length.
WHOLE_LIMIT = 32_000


def render_answer(text: str, budget: RenderBudget | None = None) -> str:
    """The HTML kept for a finished answer: `render_markdown` of the whole text, or of its blocks
    (as StreamingMarkdown cuts them) when it is longer than WHOLE_LIMIT. Slow for a long text:
    call it off the event loop, and once. With the `budget` its stream used, what the budget
    no longer covers is kept as plain text."""
    if len(text) <= WHOLE_LIMIT and (budget is None or not budget.exhausted):
        return budget.render(text) if budget is not None else render_markdown(text)
    stream = StreamingMarkdown(budget=budget)
    settled, tail = stream.feed(text)
    return "".join(settled) + tail


def plain_html(text: str) -> str:
    """Text shown as it is, escaped, in paragraphs: costs nothing to make whatever the text is."""
    if not text.strip():
        return ""
    return '<p dir="auto">' + escape(neutralize_bidi(text)).replace("\n", "<br>\n") + "</p>"


def unsettled_html(text: str) -> str:
    """A streaming block not finished yet, as it is so far: escaped, its line breaks and
    indentation kept (the `unsettled` class wraps it as written), no markdown. Costs nothing to
    make: a live tail is made at every frame, its block rendered once, when it settles."""
    text = text.strip("\n")
    if not text.strip():
        return ""
    return '<p class="unsettled" dir="auto">' + escape(neutralize_bidi(text)) + "</p>"


# What rendering one streaming column's markdown may cost, in CPU time: a burst, then a steady
# share of a core. Prose costs ~5 µs a character and a live column renders each block once (its
# tail is shown as written), so a real model's stream (even a fast local one) spends a per cent
# or two of a core; an endpoint
# sending hundreds of kilobytes a second of markdown that is costly to parse spends far more,
# in a thread that holds the interpreter every other user's pages need (bench row 10).
RENDER_BURST_SECONDS = 0.25
RENDER_SHARE = 0.1


class RenderBudget:
    """The CPU time a stream may spend rendering markdown; past it, its text is shown as plain
    text (`plain_html`) until the budget has refilled. Measured with the rendering thread's own
    CPU clock, so waiting for the interpreter does not count."""

    def __init__(
        self,
        burst_seconds: float = RENDER_BURST_SECONDS,
        share: float = RENDER_SHARE,
        *,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.burst_seconds = burst_seconds
        self.share = share
        self.left = burst_seconds
        self._clock, self._cpu_clock = clock, cpu_clock
        self._refilled_at = clock()

    @property
    def exhausted(self) -> bool:
        self._refill()
        return self.left <= 0

    def render(self, text: str) -> str:
        if self.exhausted:
            return plain_html(text)
        started = self._cpu_clock()
        html = render_markdown(text)
        self.left -= self._cpu_clock() - started
        return html

    def _refill(self) -> None:
        now = self._clock()
        self.left = min(self.burst_seconds, self.left + (now - self._refilled_at) * self.share)
        self._refilled_at = now


def _fence_marker(line: str) -> str | None:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return None
    for char in "`~":
        if stripped.startswith(char * 3):
            return char * (len(stripped) - len(stripped.lstrip(char)))
    return None


def _closes(line: str, fence: str) -> bool:
    # A closing fence is a bare run of the opening's character, at least as long: "```python"
    # inside a ``` block is code, not the end of it.
    marker = _fence_marker(line)
    return marker is not None and marker.startswith(fence) and line.strip() == marker


class StreamingMarkdown:
    """Renders a growing answer without re-rendering what is already settled.

    Text is cut into blocks at blank lines outside fenced code. A block followed by a blank
    line is final: it is rendered once and never again. Only the unfinished last block is
    re-rendered on each update (or shown as written, see `plain_tail`), so the cost of a stream
    grows with its length, not with its square. When the answer is complete, `render_answer` of
    the whole text gives the final HTML (lists or links that span blocks then join up).

    No block, and no tail, is longer than `block_limit`: text that goes on without a blank line
    (a thousand lines of "[", an unclosed code fence) is cut by force at the last line end
    within the limit (mid-line when one line is longer), so every feed costs at most a bounded
    render however the text looks. A cut inside a fence reopens it in the next block, so the
    code goes on as code.

    With `plain_tail` (a live stream's, chat.runs.frames) the tail is shown as written
    (`unsettled_html`) rather than rendered: markdown is then rendered once a block, when it
    settles, and a feed that settles none renders nothing (`may_settle` tells beforehand).
    """

    def __init__(
        self, block_limit: int = BLOCK_LIMIT, budget: RenderBudget | None = None, *, plain_tail: bool = False
    ) -> None:
        self.block_limit = block_limit
        # A live stream has a budget (chat.runs.frames); without one, every block is markdown.
        self.budget = budget
        self.plain_tail = plain_tail
        self._render = budget.render if budget is not None else render_markdown
        self.blocks: list[str] = []  # rendered HTML of the settled blocks
        self._pending = ""  # text after the last settled block
        self._fence: str | None = None  # the open fence at the start of _pending's scan
        self._fence_line = ""  # the line that opened it, to reopen it after a forced cut
        self._reopen = ""  # that line, when _pending starts inside a fence cut by force
        self._mid_line = False  # _pending starts in the middle of a line cut by force
        self._scanned = 0  # how far into _pending lines have been checked for a boundary
        self._tail = ""

    def feed(self, text: str) -> tuple[list[str], str]:
        """Add text; return the blocks that became settled, and the HTML of the unsettled tail."""
        self._pending += text
        settled: list[str] = []
        while (cut := self._next_boundary()) is not None:
            block, self._pending = self._pending[:cut], self._pending[cut:]
            self._scanned = 0
            html = self._render(self._reopen + block)
            # A cut inside a fence leaves the rest of the fence to the next block.
            self._reopen = self._fence_line if self._fence is not None else ""
            self.blocks.append(html)
            settled.append(html)
        if self.plain_tail:
            self._tail = unsettled_html(self._pending)
        else:
            self._tail = self._render(self._reopen + self._pending) if self._pending.strip() else ""
        return settled, self._tail

    def may_settle(self, text: str) -> bool:
        """Whether feeding `text` may settle a block (and so render markdown): never without a
        line end or the size limit, which is what a boundary needs."""
        return "\n" in text or len(self._pending) + len(text) > self.block_limit

    def tail_html(self) -> str:
        """The HTML of the unsettled tail, as the last feed rendered it."""
        return self._tail

    def _next_boundary(self) -> int | None:
        # Scan only complete lines not seen yet; a boundary is the end of a blank line
        # outside any fence, with real text before it, or a forced cut at the size limit.
        limit = self.block_limit
        while True:
            newline = self._pending.find("\n", self._scanned)
            if newline < 0 or newline >= limit:
                if newline < 0 and len(self._pending) <= limit:
                    return None
                # The next line ends past the limit: cut before it, or inside it when it is
                # the first; a line cut in two opens no fence where the cut falls.
                if self._scanned == 0:
                    self._mid_line = True
                    return limit
                return self._scanned
            line = self._pending[self._scanned : newline]
            continued, self._mid_line = self._mid_line and self._scanned == 0, False
            self._scanned = newline + 1
            if continued:
                continue
            marker = _fence_marker(line)
            if self._fence is None and marker is not None:
                self._fence, self._fence_line = marker, line.strip()[:200] + "\n"
            elif self._fence is not None and _closes(line, self._fence):
                self._fence = None
            elif self._fence is None and not line.strip() and self._pending[:newline].strip():
                return self._scanned
