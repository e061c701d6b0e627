"""Which models sit in the presets, as a user sees it: under the panel picker and on the panels page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import sign_up

BUDGET = "Budget: gemini-3-flash-preview, kimi-k2.6, deepseek-v4-pro → judge gemini-3-flash-preview"
QUALITY = "Quality: claude-opus-4.8, gpt-5.5, gemini-3.1-pro-preview → judge claude-opus-4.8"


def test_the_line_under_the_panel_picker_follows_the_choice(page: Page, app: str) -> None:
    sign_up(page, app)
    line = page.locator("#panel-lineup")
    expect(line).to_have_text(QUALITY)  # the first panel is chosen until the user picks

    page.get_by_label("Panel").select_option(label="Budget")
    expect(line).to_have_text(BUDGET)
    expect(page.get_by_label("Panel")).to_have_accessible_description(BUDGET)


def test_the_panels_page_shows_who_sits_in_each_preset(page: Page, app: str) -> None:
    sign_up(page, app)
    page.get_by_role("link", name="Your panels").click()

    presets = page.get_by_role("region", name="Presets")
    budget = presets.get_by_role("row", name="Budget")
    expect(budget).to_contain_text(
        "google/gemini-3-flash-preview, moonshotai/kimi-k2.6, deepseek/deepseek-v4-pro"
    )
    expect(budget.get_by_role("cell").nth(1)).to_have_text("google/gemini-3-flash-preview")
    expect(presets.get_by_role("row", name="Quality")).to_contain_text("anthropic/claude-opus-4.8")
