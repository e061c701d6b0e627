"""Reading a run in a real browser: new output in view, the stage pills, many seats, the phone,
the spend line, a stopped run, and the analysis chips."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from chat.models import Conversation, Panel, Run, SeatAnswer
from chat.runs.creation import create_turn_and_run
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, ask, hold_every_seat_mid_answer

FIVE = [
    "google/gemini-3-flash-preview",
    "moonshotai/kimi-k2.6",
    "deepseek/deepseek-v4-pro",
    "qwen/qwen3-235b-a22b",
    "meta-llama/llama-4-maverick",
]
LONG_TEXT = "\n\n".join(f"Paragraph {n}: " + "a sentence that takes room. " * 12 for n in range(30))


def panel_of(username: str, name: str, seats: list[str]) -> Panel:
    owner = User.objects.get(username=username)
    return Panel.objects.create(owner=owner, name=name, seats=seats, judge=seats[0])


def long_conversation(username: str, turns: int = 3) -> Conversation:
    """A conversation of finished turns, each several screens long."""
    conversation = Conversation.objects.create(owner=User.objects.get(username=username))
    panel = Panel.objects.get(name="Budget")
    for number in range(turns):
        run = create_turn_and_run(conversation, f"Earlier question {number}", panel, simulated=True)
        run.answers.update(
            status=SeatAnswer.Status.DONE, text=LONG_TEXT, prompt_tokens=10, completion_tokens=900
        )
        run.fused_text = LONG_TEXT
        run.status, run.stage, run.finished_at = Run.Status.DONE, Run.Stage.FINISHED, timezone.now()
        run.save()
    return conversation


def expect_finished(page: Page, runs: int = 1) -> None:
    """The page shows `runs` finished runs (the earlier turns' included)."""
    expect(page.locator(".fused .totals")).to_have_count(runs)


def expect_finished_and_followed(page: Page) -> None:
    """The first run of a new conversation has finished, and the page, following it, has brought
    its fused answer into view and stopped scrolling: what a test does next starts from there."""
    expect_finished(page)
    expect(page.get_by_role("region", name="Fused answer")).to_be_in_viewport()
    scrolling_settles(page)


def last_run(page: Page) -> Locator:
    return page.locator("section.run").last


def top_of(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return float(box["y"])


def scrolling_settles(page: Page) -> None:
    """Wait until the page has stopped scrolling (a smooth scroll takes a few frames)."""
    page.wait_for_function(
        "() => new Promise(done => { const y = scrollY, frame = requestAnimationFrame;"
        " frame(() => frame(() => frame(() => done(scrollY === y)))); })"
    )


def expect_near_the_top(page: Page, locator: Locator) -> None:
    """The element's top sits in the upper part of the viewport (where a reader starts reading)."""
    expect(locator).to_be_in_viewport()
    page.wait_for_function(
        "e => { const t = e.getBoundingClientRect().top; return t >= -1 && t < 160; }",
        arg=locator.element_handle(),
    )
    scrolling_settles(page)


def inside_its_columns(column: Locator) -> bool:
    """Whether the column is wholly within its row of columns' visible box."""
    return bool(
        column.evaluate(
            "c => { const b = c.closest('.columns').getBoundingClientRect(), r = c.getBoundingClientRect();"
            " return r.left >= b.left - 1 && r.right <= b.right + 1; }"
        )
    )


def wait_inside_its_columns(page: Page, column: Locator) -> None:
    page.wait_for_function(
        "c => { const b = c.closest('.columns').getBoundingClientRect(), r = c.getBoundingClientRect();"
        " return r.left >= b.left - 1 && r.right <= b.right + 1; }",
        arg=column.element_handle(),
    )


def columns_in_view(page: Page) -> int:
    return int(
        last_run(page).evaluate(
            "run => { const b = run.querySelector('.columns').getBoundingClientRect();"
            " return [...run.querySelectorAll('.column')].filter(c => { const r = c.getBoundingClientRect();"
            " return r.left >= b.left - 1 && r.right <= b.right + 1; }).length; }"
        )
    )


# -- new output in view (point 2) --------------------------------------------------------------


def test_a_follow_up_in_a_long_conversation_brings_its_prompt_to_the_top(page: Page, app: str) -> None:
    sign_up(page, app)
    conversation = long_conversation("alice")
    page.goto(f"{app}{conversation.get_absolute_url()}")
    assert page.evaluate("document.documentElement.scrollHeight") > 4 * page.viewport_size["height"]

    ask(page, "A follow-up that must not land out of sight")

    prompt = page.locator("article.turn").last.locator(".prompt")
    expect(prompt).to_contain_text("A follow-up that must not land out of sight")
    expect_near_the_top(page, prompt)


def test_the_fused_answer_comes_into_view_as_the_run_ends_for_a_reader_who_stayed(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    conversation = long_conversation("alice", turns=2)
    page.goto(f"{app}{conversation.get_absolute_url()}")

    ask(page, "Where is my fused answer?")
    expect_finished(page, 3)

    expect(last_run(page).get_by_role("region", name="Fused answer")).to_be_in_viewport()


def test_a_reader_who_scrolled_away_during_the_run_is_left_where_they_are(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    conversation = long_conversation("alice", turns=2)
    page.goto(f"{app}{conversation.get_absolute_url()}")
    hold_every_seat_mid_answer(sim)
    ask(page, "Let me read the earlier turns meanwhile")
    expect_near_the_top(page, page.locator("article.turn").last.locator(".prompt"))

    # Back up to the top of the conversation, with the keyboard.
    before = page.evaluate("window.scrollY")
    page.locator("article.turn").last.locator(".prompt").click()
    page.keyboard.press("Home")
    page.wait_for_function("before => window.scrollY < before - 1500", arg=before)
    expect(page.locator("article.turn").last.locator(".prompt")).not_to_be_in_viewport()
    sim.release()
    expect_finished(page, 3)
    scrolling_settles(page)

    assert page.evaluate("window.scrollY") == 0
    expect(last_run(page).get_by_role("region", name="Fused answer")).not_to_be_in_viewport()


def test_a_turn_that_arrives_without_this_page_sending_it_does_not_move_the_page(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    conversation = long_conversation("alice", turns=2)
    page.goto(f"{app}{conversation.get_absolute_url()}")
    page.evaluate("window.scrollTo(0, 0)")

    # As a turn sent from another tab would appear in this one.
    page.locator("#thread").evaluate(
        "t => t.insertAdjacentHTML('beforeend',"
        ' \'<article class="turn" id="turn-elsewhere"><div class="prompt">From elsewhere</div></article>\')'
    )
    expect(page.get_by_text("From elsewhere")).to_be_attached()
    scrolling_settles(page)

    assert page.evaluate("window.scrollY") == 0


def test_jump_to_fused_answer_brings_it_into_view(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished_and_followed(page)
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.get_by_role("region", name="Fused answer")).not_to_be_in_viewport()

    page.get_by_role("link", name="Jump to fused answer").click()

    expect_near_the_top(page, page.get_by_role("region", name="Fused answer"))


def test_each_stage_pill_is_a_link_that_scrolls_to_its_part_of_the_run(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished_and_followed(page)
    stages = page.get_by_role("list", name="Stages")
    expect(stages.get_by_role("listitem")).to_have_class(["past", "past", "past"])

    stages.get_by_role("link", name="Analysis").click()
    expect_near_the_top(page, page.get_by_role("region", name="Analysis"))
    stages.get_by_role("link", name="Fused answer").click()
    expect_near_the_top(page, page.get_by_role("region", name="Fused answer"))
    stages.get_by_role("link", name="Panel").click()
    expect(last_run(page).locator(".seats")).to_be_in_viewport()  # the first turn: the page's top


# -- many seats (point 5) -----------------------------------------------------------------------


def test_every_column_of_a_five_seat_run_is_reached_from_the_seat_strip(page: Page, app: str) -> None:
    sign_up(page, app)
    panel_of("alice", "Five", FIVE)
    page.reload()
    ask(page, panel="Five")
    expect_finished_and_followed(page)
    strip = page.get_by_role("navigation", name="Seats")
    expect(strip).to_contain_text(re.compile(r"5 seats · [1-4] in view"))
    expect(page.locator(".columns-frame.more-right")).to_have_count(1)  # the cue that there is more

    for seat, model in enumerate(FIVE):
        tab = strip.get_by_role("link").nth(seat)
        expect(tab).to_have_attribute("title", model)
        tab.click()
        column = page.get_by_role("region", name=f"Seat {seat + 1}: {model}")
        wait_inside_its_columns(page, column)
        assert inside_its_columns(column)
        expect(tab).to_have_class(re.compile(r"\bin-view\b"))
    expect(page.locator(".columns-frame.more-left")).to_have_count(1)


def test_seats_show_short_names_with_the_full_model_on_hover(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished_and_followed(page)
    head = page.get_by_role("region", name=f"Seat 1: {BUDGET[0]}").locator(".model")
    expect(head).to_have_text("gemini-3-flash")
    expect(head).to_have_attribute("title", BUDGET[0])


def test_twin_seats_are_told_apart_by_more_than_their_number(page: Page, app: str) -> None:
    sign_up(page, app)
    panel_of("alice", "Twins", ["moonshotai/kimi-k2.6", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"])
    page.reload()
    ask(page, panel="Twins")
    expect_finished_and_followed(page)

    names = page.locator(".column .seat-head .model")
    expect(names).to_have_text(["kimi-k2.6 · A", "kimi-k2.6 · B", "deepseek-v4-pro"])
    strip = page.get_by_role("navigation", name="Seats").locator(".seat-tab-name")
    expect(strip).to_have_text(["kimi-k2.6 · A", "kimi-k2.6 · B", "deepseek-v4-pro"])


# -- the phone ----------------------------------------------------------------------------------


def test_on_a_phone_one_seat_shows_at_a_time_and_the_strip_switches_seats(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished_and_followed(page)
    page.set_viewport_size({"width": 390, "height": 844})
    strip = page.get_by_role("navigation", name="Seats")
    assert columns_in_view(page) == 1
    tabs = strip.get_by_role("link")
    expect(tabs.nth(0)).to_have_class(re.compile(r"\bin-view\b"))

    tabs.nth(2).click()
    expect(tabs.nth(2)).to_have_class(re.compile(r"\bin-view\b"))
    expect(tabs.nth(0)).not_to_have_class(re.compile(r"\bin-view\b"))
    wait_inside_its_columns(page, page.get_by_role("region", name=f"Seat 3: {BUDGET[2]}"))
    assert columns_in_view(page) == 1

    # A swipe is a sideways scroll of the columns: the strip follows it.
    page.locator(".columns").last.evaluate("c => c.scrollBy({left: -c.clientWidth})")
    expect(tabs.nth(1)).to_have_class(re.compile(r"\bin-view\b"))
    # The analysis and the fused answer are a tap away, and use the whole width.
    page.get_by_role("list", name="Stages").get_by_role("link", name="Fused answer").click()
    fused = page.get_by_role("region", name="Fused answer")
    expect(fused).to_be_in_viewport()
    box = fused.bounding_box()
    assert box is not None and box["width"] > 330


# -- the spend line (point 6) -------------------------------------------------------------------


def test_the_spend_line_shows_the_runs_tokens_and_cost_without_a_reload(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    spend = page.locator("details.spend > summary")
    expect(spend).to_be_visible()
    expect_finished(page)

    expect(spend).to_contain_text(re.compile(r"[1-9][\d,]* tokens · \$\d+\.\d{4}"))
    expect(page.locator("details.spend")).not_to_have_attribute("open", "")


# -- after Stop (point 8) -----------------------------------------------------------------------


def test_after_stop_the_pills_the_tokens_and_the_status_say_where_it_stopped(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    for model in BUDGET:
        expect(page.get_by_role("region", name=model).locator(".markdown")).not_to_be_empty()
    page.locator("section.run").get_by_role("button", name="Stop").click()

    expect(page.get_by_role("status")).to_have_text(re.compile(r"^\s*Stopped by you after \d+\.\d s\.\s*$"))
    stages = page.get_by_role("list", name="Stages").get_by_role("listitem")
    expect(stages).to_have_class(["stopped", "future", "future"])
    for model in BUDGET:
        tokens = page.get_by_role("region", name=model).locator(".seat-meta .tokens")
        expect(tokens).to_have_text(re.compile(r"^≈ [\d,]+ tok$"))
    # No call finished, so none reported a count: the run's total says so rather than "0 tokens".
    expect(page.get_by_role("region", name="Fused answer").locator(".totals")).to_contain_text(
        "tokens not reported"
    )


# -- analysis chips (point 9) -------------------------------------------------------------------


def test_a_chip_scrolls_only_the_columns_and_highlights_its_seat(page: Page, app: str) -> None:
    sign_up(page, app)
    panel_of("alice", "Five", FIVE)
    page.reload()
    ask(page, panel="Five")
    expect_finished_and_followed(page)
    last = len(FIVE) - 1
    chip = page.locator(f".analysis .chip[title='{FIVE[last]}']").first
    expect(chip).to_have_text(re.compile(r"#5 llama-4-maverick"))
    column = page.get_by_role("region", name=f"Seat {last + 1}: {FIVE[last]}")
    assert not inside_its_columns(column)
    # The reader has the columns' lower part and the analysis in view.
    page.locator(".analysis").evaluate(
        "a => window.scrollTo(0, a.getBoundingClientRect().top + scrollY - 300)"
    )
    chip.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")

    chip.click()

    expect(column).to_have_class(re.compile(r"\bhighlight\b"))
    wait_inside_its_columns(page, column)
    assert page.evaluate("window.scrollY") == before


def test_consensus_spans_the_analysis_instead_of_a_third_of_it(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished_and_followed(page)
    grid = page.locator(".analysis-grid").bounding_box()
    consensus = page.locator(".block.consensus").bounding_box()
    assert grid is not None and consensus is not None
    assert consensus["width"] > 0.9 * grid["width"]
