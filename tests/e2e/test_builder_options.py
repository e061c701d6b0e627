"""The panel builder's judging terms in a real browser: a quorum, a deadline, judge instructions and
twin seats at two temperatures, saved and shown again; a compare-only panel with no judge; a
value typed while its seat moves stays with the seat; and the whole builder on a 390 px phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from chat.models import Panel

from .conftest import sign_up
from .test_panel_builder import add, wait_until_held

GPT = "openai/gpt-5.5"
KIMI = "moonshotai/kimi-k2.6"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


def seat(page: Page, number: int) -> Locator:
    return page.get_by_role("list", name="Seats").get_by_role("listitem").nth(number - 1)


def open_settings(page: Page, number: int) -> Locator:
    """Open a seat's settings (if they are not open already); returns the seat's settings group."""
    group = page.get_by_role("group", name=f"Settings of seat {number}")
    if not group.is_visible():
        seat(page, number).locator("summary").click()
    expect(group).to_be_visible()
    return group


def pans_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def test_a_quorum_a_deadline_instructions_and_twin_temperatures_are_saved_and_shown_again(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    page.wait_for_load_state()
    add(page, GPT)
    add(page, GPT)
    add(page, KIMI)
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(3)

    open_settings(page, 1).get_by_label("Temperature").fill("0.3")
    second = open_settings(page, 2)
    second.get_by_label("Temperature").fill("1.3")
    second.get_by_label("Effort").select_option("high")

    page.get_by_text("When to judge").click()
    expect(page.locator("#slow-seats-warning")).to_have_count(0)
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Judge when K of 3 seats have answered").fill("2")
        page.get_by_label("Judge at D seconds").focus()  # leaving the quorum posts it
    # The warning comes with the quorum; the typed seats' settings survived the update.
    expect(page.locator("#slow-seats-warning")).to_contain_text("slowest seats are often the strongest")
    expect(page.get_by_role("group", name="Settings of seat 2").get_by_label("Temperature")).to_have_value(
        "1.3"
    )
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Judge at D seconds").fill("20")
        page.get_by_label("Stop them").check()
    page.get_by_text("Instructions", exact=True).click()
    page.get_by_label("Judge instructions").fill("Check every number and date.")
    page.get_by_label("Panel name").fill("Twin temperatures")
    page.get_by_role("button", name="Save panel").click()
    expect(page.get_by_text("Saved the panel")).to_be_visible()
    expect(page.locator("#panel-lineup")).to_contain_text("judge at 2 of 3 or 20 s")

    panel = Panel.objects.get(name="Twin temperatures")
    assert panel.options == {
        "quorum": 2,
        "deadline_s": 20.0,
        "late_seats": "stop",
        "judge_instructions": "Check every number and date.",
        "seats": [{"temperature": 0.3}, {"temperature": 1.3, "reasoning_effort": "high"}],
    }

    page.goto(f"{app}/panels/{panel.pk}/edit/")
    expect(seat(page, 1)).to_contain_text("temp 0.3")
    expect(seat(page, 2)).to_contain_text("temp 1.3 · effort high")
    expect(page.get_by_label("Judge when K of 3 seats have answered")).to_have_value("2")
    expect(page.get_by_label("Judge at D seconds")).to_have_value("20")
    expect(page.get_by_label("Stop them")).to_be_checked()
    expect(page.get_by_label("Judge instructions")).to_have_value("Check every number and date.")
    expect(open_settings(page, 2).get_by_label("Temperature")).to_have_value("1.3")


def test_a_compare_only_panel_is_saved_without_a_judge(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    page.wait_for_load_state()
    add(page, GPT)
    add(page, KIMI)
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(2)
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Compare only (no judge)").check()
    expect(page.locator(".estimate")).to_contain_text("no judge or writer is asked")
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Judge", exact=True).select_option("")
    page.get_by_label("Panel name").fill("Side by side")
    page.get_by_role("button", name="Save panel").click()

    expect(page.get_by_text("Saved the panel")).to_be_visible()
    expect(page.locator("#panel-lineup")).to_contain_text("Side by side: gpt-5.5, kimi-k2.6 · compare only")
    panel = Panel.objects.get(name="Side by side")
    assert (panel.judge, panel.options) == ("", {"compare_only": True})


def test_a_temperature_typed_while_its_seat_moves_stays_with_that_seat(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    page.wait_for_load_state()
    add(page, GPT)
    add(page, KIMI)
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(2)
    kimi_settings = open_settings(page, 2)
    held: list[Route] = []

    def hold(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # the move waits while the temperature is typed: a slow server, no clock

    page.route("**/panels/builder/", hold)
    with page.expect_request("**/panels/builder/"):
        page.get_by_role("button", name=f"Move {KIMI} (seat 2) up").click()
    wait_until_held(page, held)
    kimi_settings.get_by_label("Temperature").fill("1.7")
    held[0].continue_()

    expect(seat(page, 1)).to_contain_text(KIMI)
    expect(open_settings(page, 1).get_by_label("Temperature")).to_have_value("1.7")
    expect(open_settings(page, 2).get_by_label("Temperature")).to_have_value("")


def test_the_builder_with_its_terms_open_fits_a_390_px_phone(phone: Page, app: str) -> None:
    sign_up(phone, app)
    phone.goto(f"{app}/panels/new/")
    phone.wait_for_load_state()
    add(phone, GPT)
    add(phone, KIMI)
    expect(phone.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(2)
    with phone.expect_response("**/panels/builder/"):
        phone.get_by_label("Compare only (no judge)").check()
    open_settings(phone, 1).get_by_label("Temperature").fill("0.5")
    open_settings(phone, 2)
    phone.get_by_text("When to judge").click()
    phone.get_by_text("Instructions", exact=True).click()
    expect(phone.get_by_label("Judge instructions")).to_be_visible()
    assert not pans_sideways(phone)
    for field in ("Temperature", "Effort", "Max tokens", "Seed"):
        box = phone.get_by_role("group", name="Settings of seat 2").get_by_label(field).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], field
    phone.get_by_label("Panel name").fill("Phone compare")
    phone.get_by_role("button", name="Save panel").click()
    expect(phone.get_by_text("Saved the panel")).to_be_visible()
    assert Panel.objects.get(name="Phone compare").options == {
        "compare_only": True,
        "seats": [{"temperature": 0.5}],
    }
