"""A panel with web search on: each column shows what its seat searched and read, and its sources."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from chat.models import Panel

from .conftest import sign_up
from .test_chatroom import expect_finished

SEATS = ["openai/gpt-5.5", "moonshotai/kimi-k2.6"]


def test_a_researching_panel_shows_tool_activity_and_sources_in_its_columns(page: Page, app: str) -> None:
    sign_up(page, app)
    Panel.objects.create(
        owner=User.objects.get(username="alice"),
        name="Researchers",
        seats=SEATS,
        judge="openai/gpt-5.5",
        web_search=True,
    )
    page.reload()
    page.get_by_label("Panel").select_option(label="Researchers")
    page.get_by_role("textbox", name="Message").fill("What changed in PostgreSQL 18?")
    page.get_by_role("button", name="Send").click()
    expect_finished(page)
    for model in SEATS:
        column = page.get_by_role("region", name=model)
        expect(column.get_by_role("list", name="Tool activity")).to_contain_text("Searched:")
        sources = column.get_by_role("list", name="Sources").get_by_role("link")
        expect(sources.first).to_be_visible()
        assert sources.first.get_attribute("rel") == "noopener noreferrer nofollow"
        assert sources.first.get_attribute("target") == "_blank"
