"""Self-fusion in demo mode: two seats of one model write two different answers."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from chat.models import Panel

from .conftest import sign_up
from .test_chatroom import ask, expect_finished

MODEL = "openai/gpt-5.5"


def test_two_seats_of_one_model_show_two_different_answers(page: Page, app: str) -> None:
    sign_up(page, app)
    Panel.objects.create(
        owner=User.objects.get(username="alice"), name="Twins", seats=[MODEL, MODEL], judge=MODEL
    )
    page.reload()

    ask(page, panel="Twins")
    expect_finished(page)

    first = page.get_by_role("region", name=f"Seat 1: {MODEL}").locator(".markdown")
    second = page.get_by_role("region", name=f"Seat 2: {MODEL}").locator(".markdown")
    expect(first).to_contain_text("Where I come down")
    expect(second).to_contain_text("Where I come down")
    assert first.inner_text() != second.inner_text()
