"""The composer as a person uses it: refusals keep the text, Send becomes Stop, the limit, the
estimate, long prompts, and editing the last prompt to ask again."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Locator, Page, expect

from chat.forms import MAX_PROMPT_CHARS
from chat.models import SpendBudget
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import ask, expect_finished, hold_every_seat_mid_answer


def composer(page: Page) -> Locator:
    return page.locator("form#composer")


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message")


def send_button(page: Page) -> Locator:
    return composer(page).get_by_role("button", name="Send")


def stop_button(page: Page) -> Locator:
    return composer(page).get_by_role("button", name="Stop")


def first_turn_finished(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page, "How should a team of five plan a database migration?")
    expect_finished(page)


# -- a refused send ---------------------------------------------------------------------------


def test_a_blank_follow_up_is_refused_in_the_one_composer_with_its_text_kept(page: Page, app: str) -> None:
    first_turn_finished(page, app)

    message_box(page).fill("   \n  ")
    send_button(page).click()

    alert = composer(page).get_by_role("alert")
    expect(alert).to_have_text("Write a message first.")
    expect(alert).to_be_in_viewport()
    expect(page.locator("form.composer")).to_have_count(1)
    expect(page.locator("#thread .composer")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_count(1)
    expect(message_box(page)).to_be_focused()


def test_a_send_over_budget_keeps_the_text_and_says_why_in_view(page: Page, app: str) -> None:
    first_turn_finished(page, app)
    SpendBudget.objects.create(user=User.objects.get(username="alice"), period="day", limit_usd=0)

    message_box(page).fill("And what about the rollback plan?")
    send_button(page).click()

    alert = composer(page).get_by_role("alert")
    expect(alert).to_contain_text("over your daily budget")
    expect(alert).to_be_in_viewport()
    expect(message_box(page)).to_have_value("And what about the rollback plan?")
    expect(page.locator("form.composer")).to_have_count(1)
    expect(page.locator(".turn")).to_have_count(1)


@pytest.fixture
def page_without_javascript(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1366, "height": 900})
    yield context.new_page()
    context.close()


def test_without_javascript_a_refused_send_is_a_page_with_the_text_in_its_one_composer(
    page_without_javascript: Page, app: str
) -> None:
    page = page_without_javascript
    sign_up(page, app)
    SpendBudget.objects.create(user=User.objects.get(username="alice"), period="day", limit_usd=0)

    message_box(page).fill("How should a team of five plan a database migration?")
    send_button(page).click()

    expect(composer(page).get_by_role("alert")).to_contain_text("over your daily budget")
    expect(message_box(page)).to_have_value("How should a team of five plan a database migration?")
    expect(page.locator("form.composer")).to_have_count(1)


# -- Send becomes Stop ------------------------------------------------------------------------


def test_send_becomes_stop_while_the_run_goes_and_send_again_once_it_is_stopped(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)

    expect(stop_button(page)).to_be_visible()
    expect(send_button(page)).to_be_hidden()
    stop_button(page).click()

    expect(page.locator("section.run")).to_have_attribute("data-status", "stopped")
    expect(send_button(page)).to_be_visible()
    expect(stop_button(page)).to_be_hidden()


def test_send_turns_back_once_a_follow_up_has_finished(page: Page, app: str) -> None:
    first_turn_finished(page, app)

    ask(page, "And if the team is only three people?")

    expect(page.locator("section.run").nth(1)).to_have_attribute("data-status", "running")
    expect(stop_button(page)).to_be_visible()
    expect(page.locator(".fused .totals")).to_have_count(2)
    expect(send_button(page)).to_be_visible()
    expect(stop_button(page)).to_be_hidden()


def test_enter_while_the_run_goes_sends_nothing_and_says_why_keeping_the_text(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    expect(stop_button(page)).to_be_visible()
    page.wait_for_load_state()

    message_box(page).fill("And if the team is only three people?")
    message_box(page).press("Enter")

    expect(composer(page).get_by_role("alert")).to_contain_text("still going")
    expect(message_box(page)).to_have_value("And if the team is only three people?")
    expect(page.locator(".turn")).to_have_count(1)
    expect(stop_button(page)).to_be_visible()


def test_escape_stops_the_run(page: Page, app: str, sim: SimulatorThread) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    expect(stop_button(page)).to_be_visible()
    page.wait_for_load_state()  # the page's scripts have run: Esc is theirs

    page.keyboard.press("Escape")

    expect(page.locator("section.run")).to_have_attribute("data-status", "stopped")
    expect(send_button(page)).to_be_visible()


def test_after_a_reload_of_a_running_conversation_the_composer_offers_stop(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    expect(stop_button(page)).to_be_visible()

    page.reload()

    expect(stop_button(page)).to_be_visible()
    expect(send_button(page)).to_be_hidden()
    stop_button(page).click()
    expect(send_button(page)).to_be_visible()


# -- the limit and long prompts ---------------------------------------------------------------


def test_a_pasted_message_over_the_limit_is_counted_refused_and_kept_whole(page: Page, app: str) -> None:
    sign_up(page, app)
    pasted = "word " * 23_999 + "word."  # 120,000 characters

    message_box(page).fill(pasted)

    expect(message_box(page)).to_have_value(pasted)
    expect(composer(page).locator(".char-count")).to_have_text(
        re.compile(rf"^120,000 / {MAX_PROMPT_CHARS:,}")
    )
    send_button(page).click()
    expect(composer(page).get_by_role("alert")).to_contain_text(
        f"120,000 characters long, over the limit of {MAX_PROMPT_CHARS:,}"
    )
    assert message_box(page).input_value() == pasted
    expect(page.locator(".turn")).to_have_count(0)


def test_the_counter_stays_hidden_far_below_the_limit(page: Page, app: str) -> None:
    sign_up(page, app)

    message_box(page).fill("A short question.")

    expect(composer(page).locator(".char-count")).to_be_hidden()


def test_a_long_unbroken_string_stays_inside_its_bubble(page: Page, app: str) -> None:
    sign_up(page, app)

    ask(page, "x" * 3_000)

    bubble = page.locator(".turn .prompt").first
    expect(bubble).to_be_visible()
    thread = page.locator("#thread").bounding_box()
    box = bubble.bounding_box()
    assert thread is not None and box is not None
    assert box["x"] + box["width"] <= thread["x"] + thread["width"] + 1
    assert page.evaluate("document.querySelector('.turn .prompt').scrollWidth") <= box["width"] + 1


def test_a_huge_prompt_is_shown_collapsed_with_show_all(page: Page, app: str) -> None:
    sign_up(page, app)
    lines = [f"Line {number} of the pasted log." for number in range(1, 401)]

    ask(page, "\n".join(lines))

    bubble = page.locator(".turn .prompt").first
    expect(bubble).to_contain_text("Line 1 of the pasted log.")
    expect(bubble.get_by_text("Line 400 of the pasted log.")).to_be_hidden()
    box = bubble.bounding_box()
    assert box is not None and box["height"] < 400
    bubble.get_by_text("Show all").click()
    expect(bubble.get_by_text("Line 400 of the pasted log.")).to_be_attached()
    expect(bubble.locator(".prompt-whole")).to_be_visible()


# -- the estimate -----------------------------------------------------------------------------


def test_the_estimate_beside_send_follows_the_panel(page: Page, app: str) -> None:
    sign_up(page, app)
    estimate = composer(page).locator(".estimate")
    page.get_by_label("Panel").select_option(label="Quality")
    expect(estimate).to_have_text(re.compile(r"^≈ \$\d+\.\d{4}$"))
    quality = estimate.inner_text()

    page.get_by_label("Panel").select_option(label="Budget")

    expect(estimate).not_to_have_text(quality)
    expect(estimate).to_have_text(re.compile(r"^≈ \$\d+\.\d{4}$"))


def test_the_estimate_grows_with_a_long_message(page: Page, app: str) -> None:
    sign_up(page, app)
    estimate = composer(page).locator(".estimate")
    expect(estimate).to_have_text(re.compile(r"^≈ \$"))
    short = estimate.inner_text()

    message_box(page).fill("Summarise this. " * 5_000)

    expect(estimate).not_to_have_text(short)


# -- edit the last prompt and ask again -------------------------------------------------------


def test_editing_the_last_prompt_asks_again_and_keeps_the_earlier_run(page: Page, app: str) -> None:
    first_turn_finished(page, app)
    turn = page.locator(".turn")

    turn.get_by_text("Edit", exact=True).click()
    editor = turn.get_by_role("textbox", name="Edited prompt")
    expect(editor).to_have_value("How should a team of five plan a database migration?")
    editor.fill("How should a team of three plan a database migration?")
    turn.get_by_role("button", name="Ask again").click()

    earlier = page.locator("details.alternative")
    expect(earlier.locator("> summary")).to_contain_text("Earlier run 1 of 2")
    expect(page.locator(".turn > .prompt")).to_contain_text("a team of three")
    expect(page.locator(".alternative-head")).to_contain_text("an edited prompt")
    earlier.locator("> summary").click()
    expect(earlier.locator(".run-prompt")).to_contain_text("a team of five")
    expect(page.locator(".fused .totals")).to_have_count(2)


def test_only_the_last_turns_prompt_offers_edit(page: Page, app: str) -> None:
    first_turn_finished(page, app)
    ask(page, "And if the team is only three people?")
    expect(page.locator(".fused .totals")).to_have_count(2)

    expect(page.locator(".turn").first.get_by_text("Edit", exact=True)).to_be_hidden()
    expect(page.locator(".turn").last.get_by_text("Edit", exact=True)).to_be_visible()
