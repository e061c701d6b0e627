"""Sharing a conversation, reading it without an account, revoking it and forking it, in real browsers."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from chat.models import Conversation

from .conftest import sign_up
from .test_chatroom import PROMPT, ask, expect_finished

FOLLOW_UP = "And if the team has only two weeks?"


def share(page: Page) -> str:
    page.get_by_role("button", name="Share", exact=True).click()
    link = page.get_by_role("textbox", name="Share link", exact=True)
    expect(link).to_be_visible()
    return link.input_value()


def test_a_shared_link_is_read_without_an_account_until_it_is_revoked(
    page: Page, app: str, browser: Browser
) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)

    url = share(page)
    assert url.startswith(f"{app}/s/")

    stranger = browser.new_context()
    try:
        shared = stranger.new_page()
        response = shared.goto(url)
        assert response is not None and response.status == 200
        expect(shared.locator(".prompt")).to_contain_text(PROMPT)
        expect(shared.get_by_role("region", name="Fused answer")).to_be_visible()
        expect(shared.get_by_role("link", name="Sign in to fork")).to_be_visible()
        # Nothing that acts: the only buttons are Copy buttons (tests/e2e/test_copy_and_shortcuts.py).
        expect(shared.locator("button:not(.copy)")).to_have_count(0)

        page.get_by_role("button", name="Revoke link", exact=True).click()
        expect(page.get_by_role("textbox", name="Share link", exact=True)).to_have_count(0)

        response = shared.reload()
        assert response is not None and response.status == 404
    finally:
        stranger.close()


def test_a_revoked_link_shows_a_friendly_page_not_the_debug_one(
    page: Page, app: str, browser: Browser
) -> None:
    # The browser tests' server runs with DJANGO_DEBUG=1, as `make run` does.
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    url = share(page)
    page.get_by_role("button", name="Revoke link", exact=True).click()
    expect(page.get_by_role("textbox", name="Share link", exact=True)).to_have_count(0)

    stranger = browser.new_context()
    try:
        gone = stranger.new_page()
        response = gone.goto(url)
        assert response is not None and response.status == 404
        expect(gone.get_by_role("heading", name="This link was revoked or never existed")).to_be_visible()
        expect(gone.get_by_text("ask them for a new link")).to_be_visible()
        expect(gone.locator("body")).not_to_contain_text("URLconf")
        gone.get_by_role("link", name="Go to FusionRoom's home page").click()
        expect(gone.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        stranger.close()


def test_a_signed_in_visitor_forks_a_shared_conversation_and_goes_on_with_it(
    page: Page, app: str, browser: Browser
) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    url = share(page)

    bobs = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        bob = bobs.new_page()
        sign_up(bob, app, username="bob")
        bob.goto(url)
        bob.get_by_role("button", name="Fork").click()

        expect(bob).to_have_url(re.compile(r"/c/\d+/$"))
        fork = Conversation.objects.get(owner__username="bob")
        assert bob.url == f"{app}{fork.get_absolute_url()}"
        expect(bob.locator(".prompt")).to_contain_text(PROMPT)
        expect(bob.get_by_role("link", name=f"{PROMPT[:20]}")).to_be_visible()  # in his sidebar

        ask(bob, FOLLOW_UP)
        expect(bob.locator(".prompt").nth(1)).to_contain_text(FOLLOW_UP)
        expect(bob.locator(".fused .totals")).to_have_count(2)
    finally:
        bobs.close()
    assert Conversation.objects.filter(owner__username="alice").count() == 1


def test_a_conversation_exported_as_json_imports_as_a_new_one(page: Page, app: str, tmp_path: Path) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    original = Conversation.objects.get()

    with page.expect_download() as download:
        page.get_by_role("link", name="JSON").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)

    page.get_by_text("Import a conversation").click()  # opens the import section
    page.get_by_label("Conversation file (JSON)").set_input_files(saved)
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_text(f"Imported “{original.title} (imported)”.")).to_be_visible()
    copy = Conversation.objects.exclude(pk=original.pk).get()
    assert page.url == f"{app}{copy.get_absolute_url()}"
    expect(page.locator(".fused .totals")).to_contain_text("Run total")
    # Two entries in the sidebar, told apart: the copy says it is an import.
    expect(page.locator(".conversation-link")).to_have_text([f"{original.title} (imported)", original.title])
