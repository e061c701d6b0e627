"""Follow-ups, retries and re-runs, in a real browser against the simulator."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from chat.models import Run
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, ask, column, expect_finished


def finished_runs(page: Page) -> int:
    return page.locator(".fused .totals").count()


def test_a_follow_up_sends_the_panel_the_first_turns_fused_answer(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    sign_up(page, app)
    ask(page, "Should we split our monolith?")
    expect_finished(page)
    first_fused = Run.objects.get().fused_text
    asked_before = len(sim.requests)

    ask(page, "And if the team is only three people?")
    expect(page.locator(".fused .totals")).to_have_count(2)

    follow_ups = [r for r in sim.requests[asked_before:] if r.model == BUDGET[1]]
    messages = follow_ups[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == first_fused
    assert messages[2]["content"] == "And if the team is only three people?"


def test_retrying_a_failed_seat_asks_it_again_and_keeps_the_first_run(
    page: Page, app: str, sim: SimulatorThread
) -> None:
    # A 401 is not retried by the client: the seat fails once, and a retry asks again.
    sim.configure("moonshotai/kimi-k2.6", fault="unauthorized", fault_times=1)
    before = len(sim.requests)  # the simulator outlives the test: count only this test's calls
    sign_up(page, app)
    ask(page)
    expect(column(page, "moonshotai/kimi-k2.6")).to_contain_text("Failed")
    expect_finished(page)

    page.get_by_role("button", name="Retry failed seats").click()
    expect(page.get_by_text("Run 2 of 2")).to_be_visible()
    latest = page.locator(".turn > div").last
    expect(latest.get_by_role("region", name="moonshotai/kimi-k2.6")).to_contain_text("Done")
    expect(latest.locator(".fused .totals")).to_contain_text("Run total")
    # The earlier run is still there, folded away, with its failure.
    page.locator("details.alternative > summary").click()
    earlier = page.locator("details.alternative")
    expect(earlier.get_by_role("region", name="moonshotai/kimi-k2.6")).to_contain_text("Failed")
    calls = sim.requests[before:]
    kimi_calls = [r for r in calls if r.model == "moonshotai/kimi-k2.6"]
    gemini_seat_calls = [r for r in calls if r.model == BUDGET[0] and "response_format" not in r.body]
    assert len(kimi_calls) == 2  # failed once, asked again once
    # Gemini is also the judge and writer; as a seat it answered once, and its answer was kept.
    assert (
        len([r for r in gemini_seat_calls if r.body["messages"][-1]["content"].startswith("How should")]) == 1
    )
