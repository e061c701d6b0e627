"""Right-to-left text reads right-to-left: every element of user or model text takes its own direction."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import sign_up
from .test_chatroom import ask, expect_finished

ARABIC = "كيف يخطط فريق من خمسة أشخاص لترحيل قاعدة البيانات؟"


def direction(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("el => getComputedStyle(el).direction"))


def test_an_arabic_prompt_and_its_answers_read_right_to_left(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page, ARABIC)
    expect_finished(page)

    prompt = page.locator(".prompt").first
    expect(prompt).to_have_attribute("dir", "auto")
    expect(page.locator(".column .markdown")).to_have_count(3)
    for answer in page.locator(".column .markdown").all():
        expect(answer).to_have_attribute("dir", "auto")
    expect(page.locator(".fused .markdown")).to_have_attribute("dir", "auto")
    # Every point, stance and assessment of the analysis takes its own direction too.
    analysis = page.get_by_role("region", name="Analysis")
    items = analysis.locator(".consensus li, .partial li, .unique li, .blind li, .stance p, .assessment")
    expect(items.first).to_be_visible()
    assert items.count() == analysis.locator("[dir=auto]").and_(items).count()
    assert direction(page, ".prompt") == "rtl"
    assert page.locator(".prompt").first.evaluate("el => el.matches(':dir(rtl)')")
    # The simulated answer opens with a heading made of the question: that block is Arabic too.
    assert direction(page, ".column .markdown h2") == "rtl"
    # An English paragraph of the same answer stays left-to-right.
    assert direction(page, ".column .markdown p") == "ltr"


def test_an_arabic_conversation_title_reads_right_to_left_in_the_sidebar(page: Page, app: str) -> None:
    sign_up(page, app)
    ask(page, ARABIC)
    expect_finished(page)

    title = page.locator(".conversation-link").first
    expect(title).to_have_attribute("dir", "auto")
    assert title.evaluate("el => getComputedStyle(el).direction") == "rtl"
