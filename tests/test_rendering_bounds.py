"""Hostile model output costs a bounded render per feed, and bidirectional overrides are shown."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template

import chat.rendering
from chat.rendering import (
    BLOCK_LIMIT,
    RenderBudget,
    StreamingMarkdown,
    neutralize_bidi,
    render_answer,
    render_markdown,
)

PATHOLOGICAL = {
    "brackets": "[\n",
    "unclosed-fence": "```python\nx = [1, 2]\n",
    "one-long-line": "[[[[[[[[",
    "tight-list": "- [item\n",
}


class Counting:
    """Counts the calls of render_markdown and the characters they were given."""

    def __init__(self) -> None:
        self.calls = 0
        self.characters = 0
        self.largest = 0


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counting:
    counting = Counting()
    real = chat.rendering.render_markdown

    def render(text: str) -> str:
        counting.calls += 1
        counting.characters += len(text)
        counting.largest = max(counting.largest, len(text))
        return real(text)

    monkeypatch.setattr(chat.rendering, "render_markdown", render)
    return counting


def stream(text: str, delta: int = 64, limit: int = BLOCK_LIMIT) -> tuple[StreamingMarkdown, str]:
    markdown = StreamingMarkdown(block_limit=limit)
    tail = ""
    for start in range(0, len(text), delta):
        _, tail = markdown.feed(text[start : start + delta])
    return markdown, tail


def pathological(kind: str, length: int) -> str:
    unit = PATHOLOGICAL[kind]
    return (unit * (length // len(unit) + 1))[:length]


@pytest.mark.parametrize("kind", PATHOLOGICAL)
def test_no_render_of_a_stream_is_given_more_than_a_block(counted: Counting, kind: str) -> None:
    stream(pathological(kind, 20_000), delta=1_000)

    # The reopened fence line is all that a block may carry beyond the limit.
    assert counted.largest <= BLOCK_LIMIT + 20


@pytest.mark.parametrize("kind", PATHOLOGICAL)
def test_streaming_hostile_text_costs_work_linear_in_its_length(counted: Counting, kind: str) -> None:
    # A small block limit keeps the test quick; the bound is the same at any limit.
    stream(pathological(kind, 4_000), delta=16, limit=100)
    short_calls, short_characters = counted.calls, counted.characters
    counted.calls = counted.characters = 0
    stream(pathological(kind, 16_000), delta=16, limit=100)

    # Four times the text, four times the work (re-rendering the whole tail on every feed, as
    # before, costs sixteen times); and per feed, at most one block again.
    assert counted.characters <= 4.4 * short_characters
    assert counted.calls <= 4.4 * short_calls
    assert counted.characters <= 16_000 + (16_000 // 16) * (100 + 20)


def test_an_unclosed_fence_settles_in_chunks_that_stay_code() -> None:
    text = "```python\n" + "value = [1, 2, 3]\n" * 1_000
    markdown, tail = stream(text, delta=500)

    assert len(markdown.blocks) >= 5
    for block in [*markdown.blocks, tail]:
        assert block.startswith("<pre><code") and block.count("<pre>") == 1
    assert "".join(markdown.blocks).count("value") + tail.count("value") == 1_000


def test_a_fence_closed_after_a_forced_cut_ends_and_what_follows_is_text_again() -> None:
    text = "```\n" + "code line\n" * 400 + "```\n\nAfter the *code*.\n\n"
    markdown, tail = stream(text, delta=500)

    assert markdown.blocks[-1].endswith('<p dir="auto">After the <em>code</em>.</p>\n')
    assert tail == ""


def test_a_long_answer_is_rendered_block_by_block_with_the_same_text() -> None:
    text = "A paragraph of *words* here.\n\n" * 3_000
    html = render_answer(text)

    assert html.count('<p dir="auto">A paragraph of <em>words</em> here.</p>') == 3_000


def test_a_short_answer_is_rendered_whole() -> None:
    text = "- one\n\n- two\n"

    assert render_answer(text) == render_markdown(text)


# -- bidirectional overrides -----------------------------------------------------------------

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("control", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_bidi_control_in_an_answer_is_not_rendered_raw(control: str) -> None:
    rendered = render_markdown(f"Pay {control}0001$ now\n\n```\nif admin{control}:\n```")

    assert control not in rendered
    assert rendered.count("\ufffd") == 2


def test_a_bidi_control_in_a_streamed_answer_is_not_rendered_raw() -> None:
    markdown, tail = stream("evil\u202egnp.exe\n\n" * 10 + "\u2067tail", delta=3)

    assert all("\u202e" not in block for block in markdown.blocks)
    assert "\u2067" not in tail


def test_the_template_filter_neutralises_a_model_name_and_still_escapes_it() -> None:
    template = Template("{% load chat_tags %}{{ name|bidi_safe }}")

    shown = template.render(Context({"name": "gpt\u202e<b>4</b>"}))

    assert shown == "gpt\ufffd&lt;b&gt;4&lt;/b&gt;"


def test_text_without_controls_is_left_alone() -> None:
    assert neutralize_bidi("שלום, hello — ok") == "שלום, hello — ok"


# -- the render budget: a stream that is costly to render is shown as plain text ---------------


class FakeClocks:
    """Wall time and the rendering thread's CPU time, moved by the test."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def costing(self, seconds: float) -> None:
        self.cpu += seconds


def budget_on(clocks: FakeClocks, **options: Any) -> RenderBudget:
    return RenderBudget(clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu, **options)


def test_a_stream_within_its_budget_is_rendered_as_markdown() -> None:
    clocks = FakeClocks()
    stream = StreamingMarkdown(budget=budget_on(clocks, burst_seconds=1.0))

    settled, _ = stream.feed("**bold**\n\n")

    assert settled == [render_markdown("**bold**\n\n")]


def test_past_its_budget_a_stream_is_plain_text_until_the_budget_refills(monkeypatch: Any) -> None:
    clocks = FakeClocks()
    budget = budget_on(clocks, burst_seconds=0.5, share=0.1)
    real = chat.rendering.render_markdown

    def costly(text: str) -> str:
        clocks.costing(0.6)  # one render spends more than the whole burst
        return real(text)

    monkeypatch.setattr(chat.rendering, "render_markdown", costly)
    stream = StreamingMarkdown(budget=budget)

    first, _ = stream.feed("**one**\n\n")
    second, _ = stream.feed("**<two>**\n\n")
    clocks.wall += 2.0  # 2 s at a tenth of a core: 0.2 s back, the budget is positive again
    third, _ = stream.feed("**three**\n\n")

    assert "<strong>one</strong>" in first[0]
    assert second == ['<p dir="auto">**&lt;two&gt;**<br>\n<br>\n</p>']  # escaped, never parsed
    assert "<strong>three</strong>" in third[0]


def test_a_finished_answer_keeps_the_plain_text_its_stream_could_not_afford() -> None:
    clocks = FakeClocks()
    budget = budget_on(clocks, burst_seconds=0.0)

    html = render_answer("[x](javascript:alert(1)) <b>hi</b>", budget)

    assert html == '<p dir="auto">[x](javascript:alert(1)) &lt;b&gt;hi&lt;/b&gt;</p>'


def test_a_live_column_streams_under_a_rendering_budget() -> None:
    from chat.runs.frames import StreamingColumn

    assert isinstance(StreamingColumn().markdown.budget, RenderBudget)
