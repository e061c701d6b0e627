"""A run on its panel's judging terms, in a real browser: the late seat and the "judged on 2 of 3"
line, Re-fuse with all answers, Re-judge with another judge, and a compare-only panel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Locator, Page, expect

from chat.fusion.options import RunOptions, SeatOptions
from chat.models import Panel, Run
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, ask, column, expect_finished

SLOW = BUDGET[2]  # deepseek/deepseek-v4-pro
OTHER_JUDGE = BUDGET[1]  # moonshotai/kimi-k2.6
PHONE = {"width": 390, "height": 844}


def add_panel(name: str, options: RunOptions) -> None:
    Panel.objects.create(
        owner=User.objects.get(username="alice"),
        name=name,
        seats=list(BUDGET),
        judge=BUDGET[0],
        options=options.stored(),
    )


def judged_on(page: Page) -> Locator:
    return page.locator(".run:visible .judged-on")


def a_quorum_run_with_a_late_seat(page: Page, app: str, sim: SimulatorThread) -> None:
    """Quorum 2: the judge and the writer go on while the slow seat is held mid-answer."""
    sign_up(page, app)
    add_panel(
        "Quorum",
        RunOptions(
            quorum=2,
            judge_instructions="Check the numbers and the dates.",
            seats=[SeatOptions(temperature=0.9, reasoning_effort="high")],
        ),
    )
    page.reload()
    sim.hold(SLOW, after_tokens=20)
    ask(page, panel="Quorum")
    head = column(page, SLOW).locator(".seat-head")
    expect(head.locator(".badge-late")).to_have_text("late")
    # The fused answer is written while the late seat still answers.
    expect(page.get_by_role("region", name="Fused answer").locator(".markdown")).to_contain_text("migration")
    expect(column(page, BUDGET[0]).locator(".badge-late")).to_have_count(0)
    sim.release(SLOW)
    expect_finished(page)


def test_the_late_seat_and_what_the_run_was_judged_on(page: Page, app: str, sim: SimulatorThread) -> None:
    a_quorum_run_with_a_late_seat(page, app, sim)
    expect(judged_on(page)).to_contain_text(f"Judged on 2 of 3 seats at its quorum; {SLOW} answered")
    late = column(page, SLOW)
    expect(late.locator(".late-note")).to_contain_text("not judged")
    expect(late.locator(".seat-head")).to_contain_text("s later")
    expect(column(page, BUDGET[0]).locator(".seat-settings")).to_have_text("temp 0.9 · effort high")
    instructions = page.locator(".run-instructions")
    expect(instructions.locator("dd")).not_to_be_visible()
    instructions.locator("summary").click()
    expect(instructions).to_contain_text("Check the numbers and the dates.")

    page.reload()  # the same, from what was saved
    expect(judged_on(page)).to_contain_text("Judged on 2 of 3 seats")
    expect(column(page, SLOW).locator(".badge-late")).to_have_text("late")


def test_re_fusing_with_all_answers_judges_the_late_one_too(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    a_quorum_run_with_a_late_seat(page, app, sim)
    first = Run.objects.get()
    page.get_by_role("button", name="Re-fuse with all answers").click()
    expect(page.get_by_text("Run 2 of 2")).to_be_visible()
    expect(page.get_by_text("Earlier run 1 of 2")).to_be_visible()
    expect_finished(page)
    # The new run judged every answer: no late seat, no "judged on" line, and no seat asked again.
    expect(judged_on(page)).to_have_count(0)
    again = Run.objects.exclude(pk=first.pk).get()
    assert again.retry_of_id == first.pk and all(answer.reused for answer in again.answers.all())


def test_re_judging_with_another_judge(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    page.get_by_text("Re-judge…").click()
    page.get_by_label("Judge", exact=True).select_option(OTHER_JUDGE)
    page.get_by_role("button", name="Re-judge", exact=True).click()
    expect(page.get_by_text("Run 2 of 2")).to_be_visible()
    expect_finished(page)
    expect(page.locator(".run:visible .analysis h2")).to_contain_text(f"by {OTHER_JUDGE}")
    assert [run.judge for run in Run.objects.order_by("pk")] == [BUDGET[0], OTHER_JUDGE]


def test_a_compare_only_panel_stops_at_the_seats_and_can_be_fused_later(page: Page, app: str) -> None:
    sign_up(page, app)
    add_panel("Side by side", RunOptions(compare_only=True))
    page.reload()
    ask(page, panel="Side by side")
    expect(page.get_by_role("status")).to_contain_text("Compare only")
    for model in BUDGET:
        expect(column(page, model).locator(".markdown")).to_contain_text("migration")
    expect(page.locator(".run .totals")).to_contain_text("Run total")
    expect(page.get_by_role("heading", name="Analysis")).to_have_count(0)
    expect(page.get_by_role("region", name="Fused answer")).to_have_count(0)
    expect(page.locator(".stages a")).to_have_text(["Panel"])

    page.get_by_text("Fuse these answers…").click()
    page.get_by_role("button", name="Fuse", exact=True).click()
    expect(page.get_by_text("Run 2 of 2")).to_be_visible()
    expect_finished(page)
    expect(page.get_by_role("heading", name="Consensus")).to_be_visible()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


def test_a_late_seat_fits_a_390_px_phone(phone: Page, app: str, sim: SimulatorThread) -> None:
    a_quorum_run_with_a_late_seat(phone, app, sim)
    expect(judged_on(phone)).to_be_visible()
    expect(phone.get_by_role("button", name="Re-fuse with all answers")).to_be_visible()
    assert not phone.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    phone.get_by_text("Re-judge…").click()
    expect(phone.get_by_label("Judge", exact=True)).to_be_visible()
    assert not phone.evaluate("document.documentElement.scrollWidth > window.innerWidth")
