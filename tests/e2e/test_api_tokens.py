"""Settings → API tokens in a real browser: make one, copy it, call the API with it, revoke it."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from .conftest import sign_up


def models(app: str, secret: str) -> httpx.Response:
    return httpx.get(f"{app}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def test_a_user_makes_a_token_copies_it_uses_it_and_revokes_it(
    page: Page, context: BrowserContext, app: str
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app)
    sign_up(page, app)
    page.goto(f"{app}/settings/")
    section = page.locator("#api-tokens")
    expect(section.get_by_text("You have no API tokens.")).to_be_visible()
    section.get_by_role("textbox", name="Name", exact=True).fill("laptop")
    section.get_by_label("Budget (USD)").fill("5")
    section.get_by_role("button", name="Create token").click()

    secret_field = section.get_by_label("Your new API token")
    expect(secret_field).to_have_value(re.compile(r"^fr-.{40,}$"))
    secret = secret_field.input_value()
    section.get_by_role("button", name="Copy").click()
    expect(section.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    card = section.get_by_role("listitem", name="API token laptop")
    expect(card).to_contain_text(secret[:10])
    expect(card).to_contain_text("Active")
    assert secret not in card.inner_text()

    listed = models(app, secret)
    assert listed.status_code == 200 and listed.json()["data"][0]["id"] == "fusion"

    # Shown once: the page loaded again has the token in its list, never its secret.
    page.reload()
    expect(section.get_by_role("listitem", name="API token laptop")).to_be_visible()
    assert secret not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Revoke the token laptop").click()
    expect(section.get_by_role("listitem", name="API token laptop")).to_contain_text("Revoked")
    assert models(app, secret).status_code == 401


def test_a_token_form_with_a_mistake_says_so_in_place(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/settings/")
    section = page.locator("#api-tokens")
    section.get_by_role("textbox", name="Name", exact=True).fill("ci")
    section.get_by_role("button", name="Create token").click()
    expect(section.get_by_label("Your new API token")).to_be_visible()
    section.get_by_role("textbox", name="Name", exact=True).fill("ci")
    section.get_by_role("button", name="Create token").click()
    expect(section.get_by_role("alert")).to_contain_text("You already have a token called 'ci'")
    expect(section.get_by_label("Your new API token")).to_have_count(0)
    expect(section.get_by_role("listitem", name="API token ci")).to_have_count(1)
