"""Every hostile string of the corpus through the one renderer, whole and streamed: the output is inert."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from chat.rendering import StreamingMarkdown, render_markdown
from tests.security.payloads import HTMX_AND_EXFILTRATION_CASES, every_payload, naughty_strings

# What the renderer may emit, tag by tag (chat/rendering.py), plus what nh3 adds to links.
PLAIN_TAGS = {
    "blockquote", "br", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "p", "pre", "s",
    "strong", "table", "tbody", "thead", "tr", "ul",
}  # fmt: skip
# Blocks carry dir="auto" (set by the sanitiser, whatever the input said): direction, nothing else.
AUTO_DIRECTION = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
ALLOWED: dict[str, set[str]] = {
    **{tag: {"dir"} if tag in AUTO_DIRECTION else set() for tag in PLAIN_TAGS},
    "a": {"href", "title", "rel", "target"},
    "ol": {"start"},
    "td": {"align", "dir"},
    "th": {"align", "dir"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
}
NEVER = {"script", "img", "iframe", "object", "embed", "form", "meta", "base", "link", "style", "svg", "math"}
SAFE_SCHEMES = {"http", "https", "mailto"}
URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def tags_of(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Tags()
    parser.feed(markup)
    parser.close()
    return parser.found


def scheme_a_browser_sees(href: str) -> str | None:
    # The URL parser drops leading and trailing C0 controls and spaces, and every tab and newline.
    url = re.sub(r"^[\x00-\x20]+|[\x00-\x20]+$", "", html.unescape(href))
    url = re.sub(r"[\t\n\r]", "", url)
    found = URL_SCHEME.match(url)
    return found.group(1).lower() if found else None


def problems_in(markup: str) -> list[str]:
    problems = []
    for tag, attrs in tags_of(markup):
        if tag in NEVER or tag not in ALLOWED:
            problems.append(f"tag <{tag}>")
            continue
        for name, value in attrs:
            if name.startswith(("on", "hx-", "data-", "ws-")) or name == "style":
                problems.append(f"attribute {name} on <{tag}>")
            elif name not in ALLOWED[tag]:
                problems.append(f"unexpected attribute {name} on <{tag}>")
            elif name == "dir" and value != "auto":
                problems.append(f"dir={value!r} on <{tag}>")
            elif name == "href" and scheme_a_browser_sees(value or "") not in (SAFE_SCHEMES | {None}):
                problems.append(f"link to {value!r}")
    return problems


PAYLOADS = every_payload()


def test_the_corpus_holds_the_big_list_and_our_own_cases() -> None:
    assert len(naughty_strings()) == 485
    assert any("<script>" in payload for payload in naughty_strings())
    assert len(HTMX_AND_EXFILTRATION_CASES) >= 40


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_a_payload_renders_to_inert_html(payload: str) -> None:
    assert problems_in(render_markdown(payload)) == []


@pytest.mark.parametrize("payload", HTMX_AND_EXFILTRATION_CASES, ids=range(len(HTMX_AND_EXFILTRATION_CASES)))
def test_a_payload_inside_markdown_structures_renders_to_inert_html(payload: str) -> None:
    # The same string where markdown gives it other parsing contexts: a list, a quote, a table
    # cell, a heading, a link text.
    one_line = payload.replace("\n", " ")
    text = f"- {one_line}\n\n> {one_line}\n\n| a |\n|---|\n| {one_line} |\n\n# {one_line}\n\n[{one_line}](https://ok.example/)"
    assert problems_in(render_markdown(text)) == []


def test_the_whole_corpus_streamed_in_small_pieces_renders_to_inert_html() -> None:
    text = "\n\n".join(PAYLOADS)
    stream = StreamingMarkdown()
    rendered: list[str] = []
    for start in range(0, len(text), 37):
        settled, tail = stream.feed(text[start : start + 37])
        rendered.extend(settled)
        assert problems_in(tail) == [], tail
    assert problems_in("".join(rendered)) == []
    assert problems_in(render_markdown(text)) == []


def test_the_checker_itself_catches_what_it_looks_for() -> None:
    assert problems_in('<div hx-get="/x">') == ["attribute hx-get on <div>"]
    assert problems_in('<a href="javascript:alert(1)">') == ["link to 'javascript:alert(1)'"]
    assert problems_in('<a href="jav&#x09;ascript:alert(1)">') == ["link to 'jav\\tascript:alert(1)'"]
    assert problems_in("<img src=x>") == ["tag <img>"]
    assert problems_in('<p style="color:red">') == ["attribute style on <p>"]
