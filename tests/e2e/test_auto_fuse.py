"""Auto-fuse in a real browser: a panel built with the option, a short question its model answers
alone, a real one it consults the panel on (the query, the seats streaming, the analysis, then its
answer), the same after a reload, and on a 390 px phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from chat.models import Panel
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, HEADINGS, hold_every_seat_mid_answer
from .test_panel_builder import add

WRITER = "openai/gpt-5.5"
SHORT = "Hi"
REAL = "How should a team of five plan a database migration?"
PHONE = {"width": 390, "height": 844}


def send(page: Page, prompt: str) -> None:
    page.get_by_role("textbox", name="Message").fill(prompt)
    page.get_by_role("button", name="Send").click()


def runs(page: Page) -> Locator:
    return page.locator("section.run")


def answer(run: Locator) -> Locator:
    return run.get_by_role("region", name="Answer", exact=True)


def expect_finished(run: Locator) -> None:
    expect(answer(run).locator(".totals")).to_contain_text("Run total")


def seat_columns(run: Locator) -> Locator:
    return run.get_by_role("region", name="Seat ")


def expect_answered_alone(run: Locator) -> None:
    expect(run.locator(".consult")).to_contain_text("Answered without consulting the panel")
    expect(seat_columns(run)).to_have_count(0)
    expect(run.get_by_role("region", name="Analysis")).to_have_count(0)
    expect(answer(run).locator(".fused-head h2")).to_have_text(f"Answer · {WRITER}")
    expect(answer(run).locator(".markdown")).not_to_be_empty()


def expect_consulted(run: Locator) -> None:
    consult = run.locator(".consult")
    expect(consult).to_contain_text("Consulted the panel")
    expect(consult.locator("blockquote")).to_have_text(REAL)
    expect(seat_columns(run)).to_have_count(len(BUDGET))
    for heading in HEADINGS:
        expect(run.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(answer(run)).to_contain_text("consulted the panel")
    expect(answer(run).locator(".markdown")).not_to_be_empty()


def an_auto_fuse_panel(username: str) -> Panel:
    return Panel.objects.create(
        owner=User.objects.get(username=username),
        name="Auto budget",
        seats=BUDGET,
        judge=BUDGET[0],
        writer=WRITER,
        auto_fuse=True,
    )


def test_an_auto_fuse_panel_answers_a_short_question_alone_and_consults_the_panel_on_a_real_one(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    page.get_by_role("link", name="Build a panel").click()
    page.wait_for_load_state()
    for model in BUDGET:
        add(page, model)
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Writer", exact=True).select_option(WRITER)
    # The response has arrived, but htmx swaps the form after it: a box ticked while that request
    # is still htmx's would send no update of its own.
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    # The estimate counts the writer twice once Auto-fuse is on: it comes back with the change.
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Auto-fuse").check()
    expect(page.get_by_label("Auto-fuse")).to_be_checked()
    expect(page.locator(".estimate")).to_contain_text("counted twice")
    page.get_by_label("Panel name").fill("Auto budget")
    page.get_by_role("button", name="Save panel").click()
    expect(page.get_by_text("Saved the panel")).to_be_visible()
    expect(page.locator("#panel-lineup")).to_contain_text("auto-fuse")

    before = len(sim.requests)
    send(page, SHORT)
    first = runs(page).first
    expect_finished(first)
    expect_answered_alone(first)
    # Said once, beside the answer (expect_answered_alone): the status line just says it is done.
    expect(first.get_by_role("status")).to_contain_text("Done")
    expect(first.get_by_role("status")).not_to_contain_text("Answered without")
    assert [record.model for record in sim.requests[before:]] == [WRITER], "the panel was never asked"

    hold_every_seat_mid_answer(sim)
    send(page, REAL)
    second = runs(page).nth(1)
    consult = second.locator(".consult")
    expect(consult).to_contain_text("Consulting the panel…")
    expect(consult.locator("blockquote")).to_have_text(REAL)
    for model in BUDGET:
        column = second.get_by_role("region", name=model)
        expect(column).to_contain_text("Writing")
        expect(column.locator(".markdown")).not_to_be_empty()
    sim.release()
    expect_finished(second)
    expect_consulted(second)

    page.reload()
    expect_answered_alone(runs(page).first)
    expect_consulted(runs(page).nth(1))


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


def pans_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def test_both_kinds_of_auto_fuse_run_fit_a_390_px_phone(phone: Page, app: str) -> None:
    sign_up(phone, app)
    an_auto_fuse_panel("alice")
    phone.reload()
    phone.get_by_label("Panel").select_option(label="Auto budget")
    send(phone, SHORT)
    expect_finished(runs(phone).first)
    send(phone, REAL)
    expect_finished(runs(phone).nth(1))
    expect_consulted(runs(phone).nth(1))
    assert not pans_sideways(phone)
    phone.reload()
    expect_answered_alone(runs(phone).first)
    assert not pans_sideways(phone)


def test_the_toggle_beside_the_picker_makes_one_message_of_a_preset_auto_fuse(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    an_auto_fuse_panel("alice")
    page.reload()
    toggle = page.get_by_label("Auto-fuse")
    # It follows the panel picked, and may then be changed for this message.
    page.get_by_label("Panel").select_option(label="Auto budget")
    expect(toggle).to_be_checked()
    page.get_by_label("Panel").select_option(label="Budget")
    expect(toggle).not_to_be_checked()
    toggle.check()
    before = len(sim.requests)

    send(page, SHORT)

    run = runs(page).first
    expect_finished(run)
    expect(run.locator(".consult")).to_contain_text("Answered without consulting the panel")
    expect(answer(run).locator(".fused-head h2")).to_have_text(f"Answer · {BUDGET[0]}")
    expect(seat_columns(run)).to_have_count(0)
    assert [record.model for record in sim.requests[before:]] == [BUDGET[0]]
    # The follow-up keeps it: the toggle is still ticked for the next message.
    expect(toggle).to_be_checked()
