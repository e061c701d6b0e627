"""The conversation's title above the thread, renamed in place, and one conversation open in two tabs."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import Browser, Locator, Page, expect

from chat.models import Conversation

from .conftest import sign_up
from .test_chatroom import PROMPT, ask, expect_finished

FOLLOW_UP = "And if the team has only two weeks?"


def started(page: Page, app: str) -> Conversation:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    return Conversation.objects.get()


def title(page: Page) -> Locator:
    return page.locator("#conversation-head").get_by_role("heading", level=1)


def sidebar_entry(page: Page, conversation: Conversation) -> Locator:
    return page.locator(f"#conversation-{conversation.pk} .conversation-link")


def test_the_title_is_shown_above_the_thread(page: Page, app: str) -> None:
    conversation = started(page, app)
    expect(title(page)).to_have_text(str(conversation))
    assert str(conversation).startswith(PROMPT[:20])


def test_renaming_the_title_in_place_changes_the_heading_the_sidebar_and_the_tab(
    page: Page, app: str
) -> None:
    conversation = started(page, app)
    title(page).click()
    box = page.get_by_role("textbox", name="Conversation title")
    expect(box).to_be_focused()
    box.fill("Migration plan")
    box.press("Enter")
    expect(title(page)).to_have_text("Migration plan")
    expect(sidebar_entry(page, conversation)).to_have_text("Migration plan")
    expect(page).to_have_title(re.compile(r"^Migration plan · "))
    conversation.refresh_from_db()
    assert conversation.title == "Migration plan"


def test_leaving_the_title_field_saves_it(page: Page, app: str) -> None:
    conversation = started(page, app)
    page.get_by_text("Rename", exact=True).click()
    page.get_by_role("textbox", name="Conversation title").fill("Saved on blur")
    page.get_by_role("textbox", name="Message").click()
    expect(title(page)).to_have_text("Saved on blur")
    expect(sidebar_entry(page, conversation)).to_have_text("Saved on blur")


def test_escape_cancels_a_rename(page: Page, app: str) -> None:
    conversation = started(page, app)
    before = str(conversation)
    title(page).click()
    box = page.get_by_role("textbox", name="Conversation title")
    box.fill("Not this")
    box.press("Escape")
    expect(title(page)).to_have_text(before)
    expect(box).to_be_hidden()
    expect(page).to_have_title(re.compile("^" + re.escape(before)))
    conversation.refresh_from_db()
    assert str(conversation) == before


def test_an_empty_title_is_refused_with_the_reason(page: Page, app: str) -> None:
    conversation = started(page, app)
    title(page).click()
    box = page.get_by_role("textbox", name="Conversation title")
    box.fill("   ")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#conversation-head [role=alert]")).to_be_visible()
    conversation.refresh_from_db()
    assert conversation.title.startswith(PROMPT[:20])


def test_a_rename_in_the_sidebar_menu_changes_the_heading_and_the_tab(page: Page, app: str) -> None:
    conversation = started(page, app)
    item = page.locator(f"#conversation-{conversation.pk}")
    item.locator("summary").click()
    item.get_by_role("textbox", name="Title").fill("From the sidebar")
    item.get_by_role("button", name="Save").click()
    expect(title(page)).to_have_text("From the sidebar")
    expect(page).to_have_title(re.compile(r"^From the sidebar · "))


def test_the_title_is_renamed_without_javascript(browser: Browser, app: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{app}/accounts/signup/")
        page.get_by_label("Username").fill("carol")
        page.get_by_label("Password", exact=True).fill("correct-horse-battery-9")
        page.get_by_label("Password confirmation").fill("correct-horse-battery-9")
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("textbox", name="Message")).to_be_visible()
        conversation = Conversation.objects.create(owner=User.objects.get(username="carol"), title="Before")
        page.goto(f"{app}{conversation.get_absolute_url()}")
        page.locator("#conversation-head summary").click()
        page.get_by_role("textbox", name="Conversation title").fill("After")
        page.locator("#conversation-head").get_by_role("button", name="Save").click()
        expect(title(page)).to_have_text("After")
        expect(page).to_have_title(re.compile(r"^After · "))
    finally:
        context.close()


# -- one conversation, two tabs ----------------------------------------------------------------


def test_a_turn_sent_in_one_tab_appears_with_its_live_run_in_another(page: Page, app: str) -> None:
    started(page, app)
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator(".prompt")).to_have_count(1)
    ask(page, FOLLOW_UP)
    expect(other.locator(".prompt").nth(1)).to_contain_text(FOLLOW_UP)
    # It streams there too, up to its fused answer.
    expect(other.locator(".fused .totals")).to_have_count(2)
    expect(other.locator(".turn")).to_have_count(2)


def test_the_tab_that_sent_a_turn_shows_it_once(page: Page, app: str) -> None:
    started(page, app)
    other = page.context.new_page()
    other.goto(page.url)
    ask(page, FOLLOW_UP)
    expect(page.locator(".fused .totals")).to_have_count(2)
    expect(other.locator(".fused .totals")).to_have_count(2)
    expect(page.locator(".turn")).to_have_count(2)
    expect(page.locator(".prompt", has_text=FOLLOW_UP)).to_have_count(1)
    expect(other.locator(".prompt", has_text=FOLLOW_UP)).to_have_count(1)


def test_a_rerun_in_one_tab_appears_in_another(page: Page, app: str) -> None:
    started(page, app)
    other = page.context.new_page()
    other.goto(page.url)
    page.get_by_role("button", name="Re-run with selected panel").click()
    expect(other.get_by_text("Run 2 of 2")).to_be_visible()
    expect(other.locator(".fused .totals")).to_have_count(2)
