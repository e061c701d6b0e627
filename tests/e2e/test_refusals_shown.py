"""A refusal htmx does not swap in (a retry or re-run over a limit) is shown, not swallowed."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from chat.models import SpendBudget

from .conftest import sign_up
from .test_chatroom import ask, expect_finished


def test_a_rerun_refused_over_budget_says_why_on_the_page(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    SpendBudget.objects.create(user=User.objects.get(username="alice"), period="day", limit_usd=0)
    page.get_by_role("button", name="Re-run with selected panel").click()
    alert = page.locator(".live-error")
    expect(alert).to_contain_text("over your daily budget")
    expect(alert).to_be_in_viewport()
    # The turn is untouched: one run, still finished.
    expect(page.locator("article.turn section.run")).to_have_count(1)
    alert.click()
    expect(alert).to_be_empty()
