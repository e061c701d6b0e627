"""Hostile model output in a real browser: a thread full of XSS payloads runs nothing and reaches nothing.

Every string of tests/security/payloads.py (the Big List of Naughty Strings and our htmx and
exfiltration cases) is saved where a model, a provider or a fetched page can put text: seat
answers, reasoning, errors, model names, sources and tool activity, the judge's analysis, the
fused answer, run notes; and the conversation's title and prompt for good measure. The owner
opens it, then its share link, signed in and anonymously. In each case: no dialog opened,
`window.__pwned` was never set, every request stayed on the app's origin, nothing asked for
/accounts/logout/, the browser reported no CSP violation (nothing even tried), and the owner is
still signed in afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from chat import sharing
from chat.fusion.analysis import Analysis, ConsensusPoint, Contradiction, CoveragePoint, Stance, UniqueInsight
from chat.models import Conversation, Panel, Run, SeatAnswer
from chat.runs.creation import create_turn_and_run
from tests.security.payloads import HTMX_AND_EXFILTRATION_CASES, PWN, every_payload, naughty_strings

from .conftest import sign_up

OURS = HTMX_AND_EXFILTRATION_CASES
CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclass
class Watch:
    """What a browser context did: dialogs it opened and every request it made."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.add_init_script(CSP_VIOLATIONS)

        def on_request(request: Request) -> None:
            self.requests.append(request.url)

        context.on("request", on_request)

    def watch_dialogs(self, page: Page) -> None:
        def on_dialog(dialog: object) -> None:
            self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
            dialog.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", on_dialog)

    def assert_nothing_happened(self, page: Page) -> None:
        assert self.dialogs == []
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("window.__cspViolations") == []
        off_origin = [url for url in self.requests if not url.startswith(f"{self.origin}/")]
        assert off_origin == []
        assert [url for url in self.requests if "/accounts/logout/" in url] == []


def hostile_thread(owner: User) -> Conversation:
    """A conversation of two turns whose every model-written field holds payloads."""
    conversation = Conversation.objects.create(owner=owner)
    panel = Panel.objects.create(
        owner=owner,
        name=f"<img src=x onerror={PWN}>",
        seats=["alpha/one", "beta/two", "gamma/three"],
        judge="judge/j",
        writer="writer/w",
        web_search=True,
    )
    prompt = f'<script>{PWN}</script> <div hx-get="/accounts/logout/" hx-trigger="load">prompt</div>'
    done = create_turn_and_run(conversation, prompt, panel, simulated=True)
    texts = ["\n\n".join(naughty_strings()), "\n\n".join(OURS), "\n\n".join(f"- {case}" for case in OURS)]
    for answer, text in zip(done.answers.order_by("index"), texts, strict=True):
        answer.text = text
        answer.reasoning = "\n".join(OURS)
        answer.status = SeatAnswer.Status.DONE
        answer.sources = [
            {"title": OURS[0], "url": f"javascript:{PWN}"},
            {"title": OURS[15], "url": "data:text/html,<script>alert('source')</script>"},
            {"title": "an ordinary page", "url": "https://evil.example/page"},
        ]
        answer.tool_activity = [
            {"tool": "web_fetch", "argument": f"javascript:{PWN}", "ok": True, "detail": OURS[1]},
            {"tool": "web_search", "argument": OURS[2], "ok": False, "detail": OURS[3]},
        ]
        answer.save()
    SeatAnswer.objects.filter(run=done, index=2).update(model=f'gamma/<svg onload="{PWN}">')
    done.analysis = Analysis(
        consensus=[ConsensusPoint(point=case, seats=[0, 1]) for case in OURS],
        contradictions=[
            Contradiction(
                topic=case,
                stances=[Stance(seat=0, stance=case), Stance(seat=2, stance=case)],
                assessment=case,
            )
            for case in OURS[:10]
        ],
        partial_coverage=[CoveragePoint(point=case, seats=[2]) for case in OURS],
        unique_insights=[UniqueInsight(seat=1, insight=case, why_it_matters=case) for case in OURS],
        blind_spots=list(every_payload()),
    ).model_dump()
    done.fused_text = "\n\n".join(every_payload())
    done.note = OURS[4]
    done.thread_note = OURS[5]
    done.status, done.stage, done.finished_at = Run.Status.DONE, Run.Stage.FINISHED, timezone.now()
    done.save()

    failed = create_turn_and_run(conversation, "\n".join(OURS), panel, simulated=True)
    failed.answers.update(status=SeatAnswer.Status.FAILED, error=OURS[6], text=OURS[7])
    failed.analysis_error = OURS[8]
    failed.fused_error = OURS[9]
    failed.note = OURS[10]
    failed.status, failed.stage, failed.finished_at = Run.Status.FAILED, Run.Stage.FINISHED, timezone.now()
    failed.save()
    Conversation.objects.filter(pk=conversation.pk).update(
        title=f"<script>{PWN}</script><img src=x onerror=alert(1)>"
    )
    return conversation


def open_and_settle(page: Page, url: str) -> None:
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    # The payloads arrived, as text: what was rendered is there to read.
    expect(page.get_by_role("region", name="Fused answer").first).to_contain_text('hx-trigger="load"')


def open_everything_folded(page: Page) -> None:
    # Opening what folds away (reasoning, earlier runs, menus) gives handlers like ontoggle their
    # chance, had any survived; the toggle events fire after this returns.
    opened = page.evaluate(
        "() => { const all = document.querySelectorAll('details'); all.forEach(d => { d.open = true; });"
        " return all.length; }"
    )
    assert opened > 0
    page.wait_for_load_state("networkidle")
    expect(page.locator("details:not([open])")).to_have_count(0)


def test_the_owner_opens_a_thread_of_payloads_and_nothing_runs_or_leaves(
    page: Page, context: BrowserContext, app: str
) -> None:
    watch = Watch(app)
    watch.attach(context)
    watch.watch_dialogs(page)
    sign_up(page, app)
    conversation = hostile_thread(User.objects.get(username="alice"))

    open_and_settle(page, f"{app}{conversation.get_absolute_url()}")
    open_everything_folded(page)

    watch.assert_nothing_happened(page)
    assert any(url.endswith(conversation.get_absolute_url()) for url in watch.requests)
    # Still signed in: nothing signed the owner out.
    page.goto(f"{app}/", wait_until="networkidle")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_share_link_of_a_thread_of_payloads_runs_nothing_for_anyone(
    page: Page, context: BrowserContext, app: str, browser: Browser
) -> None:
    watch = Watch(app)
    watch.attach(context)
    watch.watch_dialogs(page)
    sign_up(page, app)
    link = sharing.create_link(hostile_thread(User.objects.get(username="alice")))

    open_and_settle(page, f"{app}{link.get_absolute_url()}")
    watch.assert_nothing_happened(page)

    stranger_context = browser.new_context()
    try:
        stranger = Watch(app)
        stranger.attach(stranger_context)
        visitor = stranger_context.new_page()
        stranger.watch_dialogs(visitor)
        open_and_settle(visitor, f"{app}{link.get_absolute_url()}")
        open_everything_folded(visitor)
        stranger.assert_nothing_happened(visitor)
    finally:
        stranger_context.close()

    page.goto(f"{app}/", wait_until="networkidle")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
