"""The sidebar's history in a real browser: search, rename, delete, and loading more."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from chat.history import PAGE_SIZE
from chat.models import Conversation

from .conftest import sign_up
from .test_chatroom import ask, expect_finished

MIGRATION = "How should a team of five plan a database migration?"
QUEUE = "Which message queue suits a small startup?"


def sidebar(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Conversations")


def item(page: Page, title: str) -> Locator:
    return sidebar(page).get_by_role("listitem").filter(has=page.get_by_role("link", name=title, exact=True))


def test_a_user_finds_a_conversation_renames_it_and_deletes_another(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page, MIGRATION)
    expect_finished(page)
    page.get_by_role("link", name="+ New chat").click()
    ask(page, QUEUE)
    expect_finished(page)
    expect(item(page, QUEUE)).to_be_visible()

    # The page was drawn while the run was going; opening Spend fetches the figures as they are now.
    page.locator("#spend > summary").click()
    total = page.locator("#spend tfoot")
    expect(total).to_contain_text("$")
    expect(page.locator("#spend")).not_to_contain_text("running")

    search = sidebar(page).get_by_role("searchbox", name="Search conversations")
    search.fill("MIGRATION")
    expect(item(page, MIGRATION)).to_be_visible()
    expect(item(page, QUEUE)).to_have_count(0)

    item(page, MIGRATION).locator("summary").click()
    item(page, MIGRATION).get_by_role("textbox", name="Title").fill("Migration plan")
    item(page, MIGRATION).get_by_role("button", name="Save").click()
    expect(item(page, "Migration plan")).to_be_visible()

    search.fill("")
    expect(item(page, QUEUE)).to_be_visible()
    item(page, QUEUE).locator("summary").click()
    page.once("dialog", lambda dialog: dialog.accept())
    item(page, QUEUE).get_by_role("link", name="Delete").click()

    # It was the conversation on screen: the browser goes home, and says what was deleted.
    expect(page).to_have_url(f"{app}/")
    expect(page.get_by_text(f"Deleted “{QUEUE}”.")).to_be_visible()
    expect(item(page, QUEUE)).to_have_count(0)
    expect(item(page, "Migration plan")).to_be_visible()
    assert list(Conversation.objects.values_list("title", flat=True)) == ["Migration plan"]


def test_scrolling_the_sidebar_to_its_end_loads_the_next_page(page: Page, app: str) -> None:
    sign_up(page, app)
    alice = User.objects.get(username="alice")
    Conversation.objects.bulk_create(
        Conversation(owner=alice, title=f"Question {number}") for number in range(PAGE_SIZE + 7)
    )
    page.reload()
    conversations = sidebar(page).locator("li.conversation")
    expect(conversations).to_have_count(PAGE_SIZE)

    # Scrolling the sidebar (not the window) brings "Load more" into view: nobody clicks it.
    sidebar(page).evaluate("(aside) => { aside.scrollTop = aside.scrollHeight; }")

    expect(conversations).to_have_count(PAGE_SIZE + 7)
    expect(sidebar(page).get_by_role("link", name="Load more")).to_have_count(0)
