"""The page's chrome in a real browser: a 390 px phone, the drawer, the skip link, sign-up, dark mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from chat import sharing
from chat.models import Conversation, Panel, ShareLink

from .conftest import sign_up
from .test_chatroom import BUDGET, ask, expect_finished

PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery-9"

# The relative luminance of the computed colour of an element's property (WCAG's formula).
LUMINANCE = """([selector, property]) => {
  const value = getComputedStyle(document.querySelector(selector))[property];
  const [r, g, b] = value.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
    c = c / 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE)
    yield context
    context.close()


@pytest.fixture
def phone(phone_context: BrowserContext) -> Page:
    return phone_context.new_page()


def pans_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def a_panel_of(username: str) -> Panel:
    return Panel.objects.create(
        owner=User.objects.get(username=username),
        name="My long-named panel for phones",
        seats=BUDGET,
        judge=BUDGET[0],
    )


def overflowing_pages(page: Page, app: str, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        page.goto(app + path)
        if pans_sideways(page):
            found.append(path)
    return found


def test_no_page_pans_sideways_on_a_390_px_phone(phone: Page, app: str, browser: Browser) -> None:
    sign_up(phone, app)
    ask(phone)
    expect_finished(phone)
    conversation = Conversation.objects.get(owner__username="alice")
    a_panel_of("alice")
    shared = sharing.create_link(conversation).get_absolute_url()
    signed_in = [
        "/",
        conversation.get_absolute_url(),
        "/panels/",
        "/panels/new/",
        "/settings/",
        "/accounts/password/",
        "/import/",
        f"/c/{conversation.pk}/delete/",
        shared,
    ]
    overflowing = overflowing_pages(phone, app, signed_in)
    stranger = browser.new_context(viewport=PHONE)
    try:
        signed_out = ["/accounts/login/", "/accounts/signup/", shared]
        found = overflowing_pages(stranger.new_page(), app, signed_out)
        overflowing += [f"{path} (signed out)" for path in found]
    finally:
        stranger.close()
    assert overflowing == []


def test_a_revoked_or_unknown_share_link_fits_a_390_px_phone(phone: Page, app: str) -> None:
    sign_up(phone, app)
    conversation = Conversation.objects.create(owner=User.objects.get(username="alice"), title="Shared once")
    revoked = ShareLink.objects.create(
        conversation=conversation, token="revoked-on-a-phone", upto_position=0, revoked_at=timezone.now()
    )
    assert overflowing_pages(phone, app, [revoked.get_absolute_url(), "/s/no-such-link/"]) == []


def test_sign_out_is_in_the_top_bars_account_menu_on_a_phone(phone: Page, app: str) -> None:
    sign_up(phone, app)
    sign_out = phone.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    phone.get_by_title("Account").click()
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(phone.get_by_role("link", name="Settings")).to_be_visible()
    sign_out.click()
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()


def test_the_account_links_stay_in_the_top_bar_on_a_laptop(page: Page, app: str) -> None:
    sign_up(page, app)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_be_visible()


def test_on_a_phone_the_conversations_are_a_drawer_that_opens_and_closes(phone: Page, app: str) -> None:
    sign_up(phone, app)
    conversation = Conversation.objects.create(
        owner=User.objects.get(username="alice"),
        title="Plans for the migration",
    )
    phone.goto(app + conversation.get_absolute_url())
    drawer = phone.get_by_role("dialog", name="Conversations")  # an <aside>, a modal dialog while open
    item = phone.get_by_role("link", name="Plans for the migration")
    toggle = phone.get_by_role("button", name="Chats")
    expect(item).to_be_hidden()

    toggle.click()
    expect(item).to_be_in_viewport()
    expect(drawer).to_be_visible()
    expect(item).to_be_focused()  # the conversation being read
    phone.get_by_title("Rename or delete").click()
    title = phone.get_by_role("textbox", name="Title")
    expect(title).to_be_focused()
    phone.keyboard.press("Escape")  # closes the item's menu, not the drawer
    expect(title).to_be_hidden()
    expect(item).to_be_visible()
    phone.keyboard.press("Escape")
    expect(item).to_be_hidden()
    expect(toggle).to_be_focused()

    toggle.click()
    phone.get_by_role("link", name="Close the conversation list").click()
    expect(item).to_be_hidden()

    toggle.click()
    expect(drawer).to_be_visible()
    phone.mouse.click(PHONE["width"] - 10, PHONE["height"] // 2)  # the dimmed page beside it
    expect(item).to_be_hidden()
    expect(phone.get_by_role("textbox", name="Message")).to_be_visible()


def test_without_javascript_the_chats_link_still_shows_the_conversations(browser: Browser, app: str) -> None:
    with_script = browser.new_context(viewport=PHONE)
    without_script = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        sign_up(with_script.new_page(), app)
        without_script.add_cookies(with_script.cookies())
        page = without_script.new_page()
        page.goto(app + "/")
        new_chat = page.get_by_role("link", name="+ New chat")
        expect(new_chat).to_be_hidden()
        page.get_by_role("link", name="Chats").click()
        expect(new_chat).to_be_in_viewport()
        page.get_by_role("link", name="Close the conversation list").click()
        expect(new_chat).to_be_hidden()
    finally:
        with_script.close()
        without_script.close()


def test_the_empty_composer_takes_under_a_seventh_of_a_phone_screen_and_grows_as_you_type(
    phone: Page, app: str
) -> None:
    sign_up(phone, app)
    composer = phone.locator("#composer")
    box = composer.bounding_box()
    assert box is not None and box["height"] < 0.15 * PHONE["height"]
    send = phone.get_by_role("button", name="Send")
    panel = phone.get_by_label("Panel")
    send_box, panel_box = send.bounding_box(), panel.bounding_box()
    assert send_box is not None and panel_box is not None
    assert abs(send_box["y"] - panel_box["y"]) < send_box["height"]  # one row
    message = phone.get_by_role("textbox", name="Message")
    empty = message.bounding_box()
    message.fill("\n".join(f"line {n}" for n in range(5)))
    grown = message.bounding_box()
    assert empty is not None and grown is not None and grown["height"] > empty["height"] * 1.8
    message.fill("\n".join(f"line {n}" for n in range(60)))
    longest = message.bounding_box()
    assert longest is not None and longest["height"] <= 0.3 * PHONE["height"]


def test_the_builders_seats_and_save_button_fit_a_phone(phone: Page, app: str) -> None:
    sign_up(phone, app)
    phone.goto(app + "/panels/new/")
    for model in BUDGET[:2]:
        phone.get_by_role("button", name=f"Add {model}").click()
        expect(phone.locator(".seat-chip").filter(has_text=model)).to_have_count(1)
    for locator in (phone.get_by_role("list", name="Seats"), phone.get_by_role("button", name="Save panel")):
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert not pans_sideways(phone)


def test_sign_up_shows_each_password_error_under_its_field_and_keeps_what_was_typed(
    page: Page, app: str
) -> None:
    page.goto(f"{app}/accounts/signup/")
    username = page.get_by_label("Username")
    password = page.get_by_label("Password", exact=True)
    confirmation = page.get_by_label("Password confirmation")
    username.fill("carol")
    password.fill("short")
    confirmation.fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#id_password1-error")).to_contain_text("too short")
    expect(page.locator("#id_password2-error")).to_have_count(0)
    expect(username).to_have_value("carol")
    expect(password).to_have_value("short")
    expect(confirmation).to_have_value("short")

    password.fill(PASSWORD)
    confirmation.fill(PASSWORD + "x")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#id_password2-error")).to_contain_text("didn’t match")
    expect(page.locator("#id_password1-error")).to_have_count(0)
    expect(password).to_have_value(PASSWORD)
    expect(confirmation).to_have_value(PASSWORD + "x")


def test_a_signed_out_visitor_lands_on_a_page_that_says_what_fusionroom_is(page: Page, app: str) -> None:
    page.goto(app + "/")
    landing = page.get_by_role("region", name="One question, a panel of models, one fused answer")
    expect(landing).to_be_visible()
    for step in ("Panel", "Judge", "Fused answer"):
        expect(landing.get_by_role("listitem").filter(has_text=step).first).to_be_visible()
    sign_up_link = landing.get_by_role("link", name="Create an account")
    expect(sign_up_link).to_have_attribute("href", "/accounts/signup/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_every_page_links_a_favicon_that_is_served(page: Page, app: str) -> None:
    page.goto(f"{app}/accounts/login/")
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href is not None
    icon = page.request.get(app + href)
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert page.request.get(f"{app}/favicon.ico").status == 200  # redirected to the same icon


# The first element of the page's tab order (off-screen counts: only hidden ones are skipped).
FIRST_TAB_STOP = """() => [...document.querySelectorAll(
  'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'
)].find((el) => el.checkVisibility({visibilityProperty: true}))"""


def test_the_first_tab_stop_is_the_skip_link_and_it_moves_focus_to_the_conversation(
    page: Page, app: str
) -> None:
    sign_up(page, app)
    page.goto(app + "/")
    skip = page.get_by_role("link", name="Skip to the conversation")
    first = page.evaluate_handle(FIRST_TAB_STOP)
    assert first.evaluate("(el) => el.textContent") == "Skip to the conversation"
    # The message box has focus on arrival; going back from the top bar's first link reaches the skip link.
    page.get_by_role("link", name="FusionRoom").focus()
    page.keyboard.press("Shift+Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # hidden until focused
    page.keyboard.press("Enter")
    expect(page.locator("main#conversation")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main#conversation') !== null")


def test_the_budget_form_is_styled_like_the_rest_of_the_settings_page(page: Page, app: str) -> None:
    sign_up(page, app)
    page.goto(app + "/settings/")
    padding = page.locator("#id_name").evaluate("e => getComputedStyle(e).paddingLeft")
    for field in (page.get_by_label("Budget in dollars"), page.get_by_label("Budget period")):
        expect(field).to_have_class("form-input")
        expect(field).to_have_css("border-radius", "8px")
        expect(field).to_have_css("padding-left", padding)  # as the endpoint form's inputs
    expect(page.get_by_role("button", name="Save budget")).to_have_class("primary")


def test_dark_mode_follows_the_system_and_light_is_the_default(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page)
    expect_finished(page)
    assert page.evaluate(LUMINANCE, ["body", "backgroundColor"]) > 0.8
    assert page.evaluate(LUMINANCE, ["body", "color"]) < 0.1
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(LUMINANCE, ["body", "backgroundColor"]) < 0.05
    assert page.evaluate(LUMINANCE, ["body", "color"]) > 0.6
    surfaces = [".column", ".fused", "#composer textarea", ".badge-demo", ".chip", ".status-pill.status-done"]
    for selector in surfaces:
        assert page.evaluate(LUMINANCE, [selector, "backgroundColor"]) < 0.1, selector
    assert page.evaluate(LUMINANCE, [".fused .markdown", "color"]) > 0.6
