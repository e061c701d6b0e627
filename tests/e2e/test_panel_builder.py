"""Building a panel by clicking, saving it, and asking it a question, in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from .conftest import sign_up


def add(page: Page, model: str) -> None:
    page.get_by_role("button", name=f"Add {model}", exact=True).click()


def test_a_user_builds_a_self_fusion_panel_saves_it_and_asks_it(page: Page, app: str) -> None:
    sign_up(page, app)
    page.get_by_role("link", name="Build a panel").click()
    # The page's scripts (htmx among them) run at DOMContentLoaded: typing before it is not sent.
    page.wait_for_load_state()

    search = page.get_by_role("textbox", name="Search models")
    search.fill("gpt")
    expect(page.get_by_role("button", name="Add openai/gpt-5.5", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add moonshotai/kimi-k2.6", exact=True)).to_have_count(0)
    add(page, "openai/gpt-5.5")
    add(page, "openai/gpt-5.5")
    search.fill("")
    add(page, "moonshotai/kimi-k2.6")
    add(page, "deepseek/deepseek-v4-pro")
    seats = page.get_by_role("list", name="Seats").get_by_role("listitem")
    expect(seats).to_have_count(4)

    # Picking the judge re-renders the builder: wait for that before typing the name, or the
    # swap would replace the field being typed in.
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Judge", exact=True).select_option("anthropic/claude-opus-4.8")
    expect(page.locator(".estimate .figure")).to_contain_text("$")
    page.get_by_label("Panel name").fill("My panel")
    page.get_by_role("button", name="Save panel").click()

    expect(page.get_by_text("Saved the panel")).to_be_visible()
    expect(page.get_by_label("Panel")).to_have_value(
        page.get_by_role("option", name="My panel").get_attribute("value") or ""
    )
    page.get_by_role("textbox", name="Message").fill("Is a monorepo right for a team of twelve?")
    page.get_by_role("button", name="Send").click()

    columns = page.get_by_role("region", name="Seat ")
    expect(columns).to_have_count(4)
    expect(page.get_by_role("region", name="Seat 2: openai/gpt-5.5")).to_be_visible()
    expect(page.get_by_role("region", name="Fused answer").locator(".totals")).to_contain_text("Run total")
    expect(page.get_by_role("region", name="Analysis")).to_contain_text("claude-opus-4.8")


def test_removing_a_seat_and_an_invalid_panel_gets_a_message_and_saves_nothing(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    add(page, "openai/gpt-5.5")
    add(page, "moonshotai/kimi-k2.6")
    page.get_by_role("button", name="Remove moonshotai/kimi-k2.6").click()
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(1)
    page.get_by_label("Panel name").fill("Too small")
    page.get_by_role("button", name="Save panel").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 2 seats")
    page.goto(f"{app}/panels/")
    expect(page.get_by_text("No saved panels yet")).to_be_visible()


def wait_until_held(page: Page, held: list[Route], round_trips: int = 500) -> None:
    """Let Playwright deliver the route to its handler. The page's `request` event and the route's
    handler are separate messages: `expect_request` can return before the handler has run (the cluster's
    CI saw `held` still empty), so pump the connection with cheap round trips until it has, no clock."""
    for _ in range(round_trips):
        if held:
            return
        page.evaluate("0")
    raise AssertionError("the builder's update never reached the route")


def test_a_click_while_the_last_one_is_still_in_flight_loses_no_seat(page: Page, app: str) -> None:
    sign_up(page, app)
    page.get_by_role("link", name="Build a panel").click()
    page.wait_for_load_state()
    held: list[Route] = []

    def hold_the_first_update(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # answered only when the test says so: a slow server, with no clock

    page.route("**/panels/builder/", hold_the_first_update)
    with page.expect_request("**/panels/builder/"):
        add(page, "openai/gpt-5.5")
    wait_until_held(page, held)
    add(page, "moonshotai/kimi-k2.6")  # the first add is still waiting for its answer
    held[0].continue_()

    seats = page.get_by_role("list", name="Seats").get_by_role("listitem")
    expect(seats).to_have_count(2)
    expect(seats.nth(0)).to_contain_text("openai/gpt-5.5")
    expect(seats.nth(1)).to_contain_text("moonshotai/kimi-k2.6")


def test_a_name_typed_while_a_seat_is_being_added_survives_the_update(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    add(page, "openai/gpt-5.5")
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(1)
    held: list[Route] = []

    def hold(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # the update waits until the name is typed: a slow server, with no clock

    page.route("**/panels/builder/", hold)
    with page.expect_request("**/panels/builder/"):
        add(page, "moonshotai/kimi-k2.6")
    wait_until_held(page, held)
    page.get_by_label("Panel name").fill("Typed in time")
    held[0].continue_()

    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_label("Panel name")).to_have_value("Typed in time")
    # The judge's update lands before Save here; a Save clicked while one is in flight has its own test.
    with page.expect_response("**/panels/builder/"):
        page.get_by_label("Judge", exact=True).select_option("openai/gpt-5.5")
    expect(page.get_by_label("Panel name")).to_have_value("Typed in time")
    page.get_by_role("button", name="Save panel").click()
    expect(page.get_by_text("Saved the panel")).to_be_visible()
    expect(page.get_by_role("option", name="Typed in time")).to_have_count(1)


def test_the_server_still_fills_in_a_field_nobody_typed_in(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    page.get_by_label("Panel name").fill("Named before")
    add(page, "openai/gpt-5.5")

    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(1)
    expect(page.get_by_label("Panel name")).to_have_value("Named before")


def test_save_clicked_while_an_update_is_in_flight_is_sent_after_it_lands(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(f"{app}/panels/new/")
    page.wait_for_load_state()
    add(page, "openai/gpt-5.5")
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(1)
    with page.expect_response("**/panels/builder/"):
        add(page, "moonshotai/kimi-k2.6")
    # The response has arrived, but htmx swaps the form after it: a Judge picked before the swap
    # would change a form that is about to be replaced, and no update would be sent.
    expect(page.get_by_role("list", name="Seats").get_by_role("listitem")).to_have_count(2)
    page.get_by_label("Panel name").fill("Saved behind an update")
    held: list[Route] = []

    def hold(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # the judge's update waits while Save is clicked: a slow server, no clock

    page.route("**/panels/builder/", hold)
    with page.expect_request("**/panels/builder/"):
        page.get_by_label("Judge", exact=True).select_option("openai/gpt-5.5")
    wait_until_held(page, held)
    page.get_by_role("button", name="Save panel").click()
    held[0].continue_()

    expect(page.get_by_text("Saved the panel")).to_be_visible()
    page.goto(f"{app}/panels/")
    expect(page.get_by_text("Saved behind an update")).to_be_visible()
