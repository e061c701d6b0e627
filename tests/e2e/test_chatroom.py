"""What a person does in the chatroom, in a real browser against the simulator."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from chat.simulator import SimulatorThread

from .conftest import sign_up

BUDGET = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
HEADINGS = ["Consensus", "Contradictions", "Partial coverage", "Unique insights", "Blind spots"]
PROMPT = "How should a team of five plan a database migration?"


def ask(page: Page, prompt: str = PROMPT, panel: str = "Budget") -> None:
    page.get_by_label("Panel").select_option(label=panel)
    page.get_by_role("textbox", name="Message").fill(prompt)
    page.get_by_role("button", name="Send").click()


def column(page: Page, model: str) -> Locator:
    # Accessible names match as substrings: "Seat 1: google/gemini-3-flash-preview".
    return page.get_by_role("region", name=model)


def answer_of(page: Page, model: str) -> Locator:
    return column(page, model).locator(".markdown")


def hold_every_seat_mid_answer(sim: SimulatorThread, tokens: int = 150) -> None:
    for model in BUDGET:
        sim.hold(model, after_tokens=tokens)


def expect_finished(page: Page) -> None:
    expect(page.get_by_role("region", name="Fused answer").locator(".totals")).to_contain_text("Run total")


def test_a_new_user_asks_the_budget_panel_and_reads_the_analysis_and_fused_answer(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    ask(page)
    for model in BUDGET:
        expect(column(page, model)).to_be_visible()
    for heading in HEADINGS:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect_finished(page)
    fused = page.get_by_role("region", name="Fused answer").locator(".markdown")
    assert len(fused.inner_text()) > 200
    expect(page.get_by_role("link", name=PROMPT[:20])).to_be_visible()  # the sidebar lists it


def test_every_column_streams_at_the_same_time(page: Page, app: str, sim: SimulatorThread) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    # Each seat has written part of its answer while none of them has finished.
    for model in BUDGET:
        expect(answer_of(page, model)).not_to_be_empty()
        expect(column(page, model)).to_contain_text("Writing")
    expect(page.get_by_role("status")).to_contain_text("The panel is answering")
    sim.release()
    for model in BUDGET:
        expect(column(page, model)).to_contain_text("Done")
    expect_finished(page)


def test_a_reload_mid_run_shows_what_arrived_and_goes_on_without_a_gap(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    for model in BUDGET:
        expect(answer_of(page, model)).not_to_be_empty()
    page.reload()
    for model in BUDGET:
        expect(answer_of(page, model)).not_to_be_empty()
    before = {model: answer_of(page, model).inner_text() for model in BUDGET}
    sim.release()
    expect_finished(page)
    for model in BUDGET:
        after = answer_of(page, model).inner_text()
        assert after.startswith(before[model].strip()[:20]) and len(after) > len(before[model])
        assert after.count(before[model].strip()[:20]) == 1  # nothing arrived twice


def test_a_reload_after_the_run_shows_everything_saved(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    shown = {model: answer_of(page, model).inner_text() for model in BUDGET}
    fused = page.get_by_role("region", name="Fused answer").inner_text()
    page.reload()
    for model in BUDGET:
        assert answer_of(page, model).inner_text() == shown[model]
    assert page.get_by_role("region", name="Fused answer").inner_text() == fused
    for heading in HEADINGS:
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def test_stop_ends_the_run_keeps_the_text_and_closes_every_upstream_request(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    hold_every_seat_mid_answer(sim)
    ask(page)
    for model in BUDGET:
        expect(answer_of(page, model)).not_to_be_empty()
    # The run's own Stop (the composer's Send is a Stop too meanwhile: tests/e2e/test_composer.py).
    page.locator("section.run").get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_contain_text("Stopped")
    for model in BUDGET:
        expect(column(page, model)).to_contain_text("Stopped")
        expect(answer_of(page, model)).not_to_be_empty()
    seats = sim.wait_for_requests(3)
    assert all(record.finished for record in sim.requests[: len(seats)])
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)


def test_a_failed_seat_shows_its_reason_while_the_others_complete(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sim.configure("moonshotai/kimi-k2.6", fault="server_error")
    sign_up(page, app)
    ask(page)
    kimi = column(page, "moonshotai/kimi-k2.6")
    expect(kimi).to_contain_text("Failed")
    expect(kimi.get_by_role("alert")).not_to_be_empty()
    expect_finished(page)
    for model in ("google/gemini-3-flash-preview", "deepseek/deepseek-v4-pro"):
        expect(column(page, model)).to_contain_text("Done")
