"""Copy buttons and keyboard shortcuts in a real browser: what lands on the clipboard, what each key does."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Page, expect

from chat.models import Run, SeatAnswer
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, ask, column, expect_finished

CODE = 'def double(x):\n    return x * 2  # < 3 & "quoted"'
# An answer with what rendering changes: a heading, emphasis, a code block, a link, non-ASCII text.
ANSWER = (
    "## Plan\n\nUse **this** [helper](https://example.com/a?b=1&c=2):\n\n"
    f"```python\n{CODE}\n```\n\nDone — ✓ ünïcode\n"
)


CODER = BUDGET[2]


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def allow_clipboard(context: BrowserContext, app: str) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app)


def answer_with_code(sim: SimulatorThread) -> None:
    """The third seat writes exactly ANSWER, streamed like any answer (the first one judges)."""
    sim.configure(CODER, fault="flood_answer", fault_text=ANSWER, fault_body_bytes=len(ANSWER))


def finished_run_with_code(page: Page, app: str, sim: SimulatorThread) -> None:
    allow_clipboard(page.context, app)
    answer_with_code(sim)
    sign_up(page, app)
    ask(page)
    expect_finished(page)


def test_copy_on_a_seat_puts_its_original_markdown_on_the_clipboard(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    finished_run_with_code(page, app, sim)
    button = column(page, CODER).get_by_role("button", name="Copy seat 3’s answer")
    button.click()
    expect(button).to_have_text("Copied ✓")
    assert clipboard(page) == ANSWER
    expect(button).to_have_text("Copy")  # the confirmation goes after a moment


def test_copy_on_the_fused_answer_puts_its_markdown_on_the_clipboard(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    finished_run_with_code(page, app, sim)
    fused = page.get_by_role("region", name="Fused answer")
    fused.get_by_role("button", name="Copy the fused answer").click()
    expect(fused.get_by_role("button", name="Copy the fused answer")).to_have_text("Copied ✓")
    assert clipboard(page) == Run.objects.get().fused_text
    assert "**" in clipboard(page) or "#" in clipboard(page)  # markdown, not the rendered text


def test_copy_on_a_code_block_puts_exactly_the_code_on_the_clipboard(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    finished_run_with_code(page, app, sim)
    button = column(page, CODER).get_by_role("button", name="Copy the code")
    button.click()
    expect(button).to_have_text("Copied ✓")
    assert clipboard(page) == CODE


def test_a_copy_is_announced_to_screen_readers(page: Page, app: str, sim: SimulatorThread) -> None:
    finished_run_with_code(page, app, sim)
    column(page, CODER).get_by_role("button", name="Copy the code").click()
    expect(page.locator(".tools-announcer[aria-live=polite]")).to_have_text("Copied to the clipboard.")


def test_copy_beside_the_share_link_puts_the_link_on_the_clipboard(page: Page, app: str) -> None:
    allow_clipboard(page.context, app)
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    page.get_by_role("button", name="Share", exact=True).click()
    link = page.get_by_role("textbox", name="Share link", exact=True).input_value()
    page.get_by_role("button", name="Copy the share link").click()
    expect(page.get_by_role("button", name="Copy the share link")).to_have_text("Copied ✓")
    assert clipboard(page) == link and link.startswith(f"{app}/s/")


def test_the_shared_page_copies_answers_and_code_blocks(
    page: Page, app: str, sim: SimulatorThread, browser: Browser
) -> None:
    finished_run_with_code(page, app, sim)
    page.get_by_role("button", name="Share", exact=True).click()
    url = page.get_by_role("textbox", name="Share link", exact=True).input_value()
    stranger = browser.new_context()
    try:
        allow_clipboard(stranger, app)
        shared = stranger.new_page()
        shared.goto(url)
        seat = column(shared, CODER)
        seat.get_by_role("button", name="Copy seat 3’s answer").click()
        expect(seat.get_by_role("button", name="Copy seat 3’s answer")).to_have_text("Copied ✓")
        assert clipboard(shared) == ANSWER
        seat.get_by_role("button", name="Copy the code").click()
        expect(seat.get_by_role("button", name="Copy the code")).to_have_text("Copied ✓")
        assert clipboard(shared) == CODE
    finally:
        stranger.close()


def test_a_seat_still_writing_has_no_copy_button_until_it_is_done(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    sim.hold(BUDGET[1], after_tokens=40)
    ask(page)
    seat = column(page, BUDGET[1])
    expect(seat).to_contain_text("Writing")
    expect(column(page, BUDGET[0]).get_by_role("button", name="Copy seat 1’s answer")).to_be_visible()
    expect(seat.get_by_role("button", name="Copy seat 2’s answer")).to_have_count(0)
    sim.release()
    expect_finished(page)
    expect(seat.get_by_role("button", name="Copy seat 2’s answer")).to_be_visible()
    assert SeatAnswer.objects.get(index=1).status == SeatAnswer.Status.DONE


# -- keyboard shortcuts ---------------------------------------------------------------------


def test_question_mark_opens_the_help_listing_the_shortcuts_and_escape_closes_it(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    page.locator("body").click()
    page.keyboard.press("?")
    help = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help).to_be_visible()
    actions = ("New chat", "Go to the message box", "Jump to the last fused answer", "Show these shortcuts")
    for action in actions:
        expect(help).to_contain_text(action)
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()


def test_the_keyboard_shortcuts_button_opens_the_help(page: Page, app: str) -> None:
    sign_up(page, app)
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_question_mark_typed_in_the_message_box_stays_text(page: Page, app: str) -> None:
    sign_up(page, app)
    box = page.get_by_role("textbox", name="Message")
    box.click()
    page.keyboard.type("Why?")
    expect(box).to_have_value("Why?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_slash_puts_the_cursor_in_the_message_box(page: Page, app: str) -> None:
    sign_up(page, app)
    page.get_by_role("button", name="Keyboard shortcuts").focus()
    page.keyboard.press("/")
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")


def test_ctrl_shift_o_starts_a_new_chat(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    assert "/c/" in page.url
    page.get_by_role("textbox", name="Message").click()
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(f"{app}/")
    expect(page.get_by_role("heading", name="Ask a panel, get one fused answer")).to_be_visible()


def test_f_jumps_to_the_last_fused_answer(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    ask(page, "And with a team of two?")
    expect(page.locator(".fused .totals")).to_have_count(2)
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    last = page.locator("section.fused").last
    expect(last).not_to_be_in_viewport()
    page.keyboard.press("f")
    expect(last).to_be_in_viewport()
    expect(last).to_be_focused()  # the last of the two, not the first
