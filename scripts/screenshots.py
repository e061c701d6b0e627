"""Take the README's screenshots, in demo mode: the chatroom mid-run and after a run at 1440 px,
the same conversation on a 390 px phone (and its drawer), a five-seat run, dark mode, an
Auto-fuse panel's two kinds of run (answered alone, and consulting the panel), and the panel
builder with its judging terms open (on a laptop and on a phone), and an evaluation of the starter
suite (the form, its progress, the report, a task's verdicts, the report on a phone).

Run with `make screenshots`. It starts its own simulator and Daphne on a scratch database,
so it touches nothing of yours, and writes docs/screenshots/*.png. `python scripts/screenshots.py
auto-fuse` takes only the Auto-fuse ones; `judging` a run with a late seat and a compare-only run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fusionroom.settings")

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from chat.simulator import SimulatorThread  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PROMPT = "Our five-person team runs a chat app on SQLite. Should we move to PostgreSQL now, and how?"
FIVE_PROMPT = "Which queue design should a payments team pick for retries, and why?"
LAPTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}
BUDGET = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
# Five seats with one model twice: the seat strip, the lettered twins, self-fusion's two voices.
FIVE_SEATS = [*BUDGET, "openai/gpt-5.5", "moonshotai/kimi-k2.6"]
# Auto-fuse: this model answers, and consults the Budget seats only for a question worth it.
AUTO_WRITER = "openai/gpt-5.5"
AUTO_SHORT = "Hi! What can you do?"
AUTO_PROMPT = "Should a five-person team split its monolith into services this year, and why?"


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if found := re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", line):
            subprocess.Popen(["cat"], stdin=process.stderr, stdout=subprocess.DEVNULL)
            return process, f"http://127.0.0.1:{found.group(1)}"
    raise RuntimeError("Daphne did not start")


def add_panel(env: dict[str, str], name: str, seats: list[str], **fields: object) -> None:
    """A saved panel of ada's, written to the scratch database by a shell command: the builder
    has tests of its own, and clicking it through here adds nothing to the picture."""
    options = "".join(f", {field}={value!r}" for field, value in fields.items())
    code = (
        "from django.contrib.auth.models import User; from chat.models import Panel; "
        f"Panel.objects.create(owner=User.objects.get(username='ada'), name={name!r}, "
        f"seats={seats!r}, judge='google/gemini-3-flash-preview'{options})"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def finished(page: Page) -> None:
    expect(page.locator(".fused .totals").last).to_be_visible(timeout=60_000)


def whole_page(page: Page, path: Path) -> None:
    """The composer sticks to the bottom of the window; in a whole-page picture it would float over
    the middle. Moved through the CSSOM: an inline <style> would be refused by our CSP."""
    page.locator(".composer").evaluate("element => { element.style.position = 'static'; }")
    page.screenshot(path=path, full_page=True)


def ask(page: Page, panel: str, prompt: str) -> None:
    page.get_by_label("Panel").select_option(label=panel)
    page.get_by_role("textbox", name="Message").fill(prompt)
    page.get_by_role("button", name="Send").click()


def chatroom_shots(page: Page, sim: SimulatorThread, env: dict[str, str], url: str) -> None:
    browser = page.context.browser
    assert browser is not None
    # Hold every seat part-way through its answer, so the picture shows all the
    # columns mid-stream; then let them finish.
    for model in BUDGET:
        sim.hold(model, after_tokens=200)
    ask(page, "Budget", PROMPT)
    for model in BUDGET:
        answer = page.get_by_role("region", name=model).locator(".markdown")
        expect(answer).to_contain_text("Where I come down", timeout=30_000)
    page.screenshot(path=OUT / "chatroom-mid-run.png")
    sim.release()
    finished(page)
    conversation = page.url
    whole_page(page, OUT / "chatroom-after-run.png")

    # The same conversation on a phone, as its owner sees it, and its drawer open.
    state = page.context.storage_state()
    phone = browser.new_context(viewport=PHONE, storage_state=state).new_page()
    phone.goto(conversation)
    finished(phone)
    phone.screenshot(path=OUT / "chatroom-phone.png")
    phone.get_by_role("button", name="Chats").click()
    expect(phone.locator("#sidebar")).to_be_in_viewport()
    phone.screenshot(path=OUT / "chatroom-phone-drawer.png")

    # Dark mode follows the system's setting.
    dark = browser.new_context(viewport=LAPTOP, storage_state=state, color_scheme="dark")
    dark_page = dark.new_page()
    dark_page.goto(conversation)
    finished(dark_page)
    dark_page.screenshot(path=OUT / "chatroom-dark.png")

    add_panel(env, "Five seats", FIVE_SEATS)
    page.goto(f"{url}/")
    ask(page, "Five seats", FIVE_PROMPT)
    finished(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=OUT / "chatroom-five-seats.png")


def auto_fuse_shots(page: Page, sim: SimulatorThread, env: dict[str, str], url: str) -> None:
    """A greeting its model answers alone, then a question it consults the panel on: caught while
    the seats write, and once it has answered (the whole page, on a laptop and on a phone)."""
    browser = page.context.browser
    assert browser is not None
    add_panel(env, "Auto-fuse", BUDGET, writer=AUTO_WRITER, auto_fuse=True)
    page.goto(f"{url}/")
    ask(page, "Auto-fuse", AUTO_SHORT)
    finished(page)
    for model in BUDGET:
        sim.hold(model, after_tokens=200)
    ask(page, "Auto-fuse", AUTO_PROMPT)
    for model in BUDGET:
        answer = page.get_by_role("region", name=model).locator(".markdown")
        expect(answer).to_contain_text("Where I come down", timeout=30_000)
    page.locator(".consult").last.scroll_into_view_if_needed()
    page.screenshot(path=OUT / "chatroom-auto-fuse-consulting.png")
    sim.release()
    expect(page.locator(".fused .totals")).to_have_count(2, timeout=60_000)
    whole_page(page, OUT / "chatroom-auto-fuse.png")
    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto(page.url)
    expect(phone.locator(".fused .totals")).to_have_count(2)
    phone.locator(".consult").last.scroll_into_view_if_needed()
    phone.screenshot(path=OUT / "chatroom-auto-fuse-phone.png")


# Twin seats at two temperatures, judged at two of three or at 20 s, with judge instructions.
BUILDER_SEATS = ["openai/gpt-5.5", "openai/gpt-5.5", "deepseek/deepseek-v4-pro"]
BUILDER_OPTIONS = {
    "quorum": 2,
    "deadline_s": 20,
    "judge_instructions": "Check every number and date; flag legal risk.",
    "writer_instructions": "A one-page memo for a non-technical founder.",
    "seats": [{"temperature": 0.3}, {"temperature": 1.2, "reasoning_effort": "high"}],
}


def builder_shots(page: Page, sim: SimulatorThread, env: dict[str, str], url: str) -> None:
    """The builder editing a panel with judging terms: every disclosure open, so the picture shows
    the seats' settings, the waiting terms with their warning, and the instructions."""
    browser = page.context.browser
    assert browser is not None
    add_panel(env, "Twin temperatures", BUILDER_SEATS, options=BUILDER_OPTIONS)
    state = page.context.storage_state()
    for viewport, name in ((LAPTOP, "builder-judging-terms.png"), (PHONE, "builder-phone.png")):
        shot = browser.new_context(viewport=viewport, storage_state=state).new_page()
        shot.goto(f"{url}/panels/")
        shot.get_by_role("link", name="Edit").first.click()
        for details in shot.locator("#builder details").all():
            details.evaluate("element => { element.open = true; }")
        expect(shot.locator("#slow-seats-warning")).to_be_visible()
        if viewport is PHONE:
            # Below the catalog: the seats, their settings and the pickers fill the phone's screen.
            shot.locator("#builder").evaluate("element => element.scrollIntoView()")
            shot.screenshot(path=OUT / name)
        else:
            shot.screenshot(path=OUT / name, full_page=True)
        shot.context.close()


def judging_shots(page: Page, sim: SimulatorThread, env: dict[str, str], url: str) -> None:
    """A panel judged at its quorum while its slowest seat still wrote (the late seat, the line
    above the analysis, Re-fuse with all answers), and a compare-only panel's run."""
    slow = BUDGET[2]
    quorum = {
        "quorum": 2,
        "judge_instructions": "Check every number and date.",
        "seats": [{"temperature": 0.9}],
    }
    add_panel(env, "Quorum of two", BUDGET, options=quorum)
    add_panel(env, "Compare only", BUDGET, options={"compare_only": True})
    page.goto(f"{url}/")
    sim.hold(slow, after_tokens=60)
    ask(page, "Quorum of two", PROMPT)
    # The fused answer is written while the late seat still answers; then it answers too.
    fused = page.get_by_role("region", name="Fused answer").locator(".markdown p")
    expect(fused.first).to_be_visible(timeout=60_000)
    sim.release(slow)
    finished(page)
    page.locator(".judged-on").scroll_into_view_if_needed()
    whole_page(page, OUT / "run-late-seat.png")
    # On a phone: the late seat's column, and Re-judge opened on its pickers.
    browser = page.context.browser
    assert browser is not None
    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto(page.url)
    finished(phone)
    phone.get_by_text("Re-judge…").click()
    expect(phone.get_by_label("Judge", exact=True)).to_be_visible()
    phone.locator(".judged-on").scroll_into_view_if_needed()
    phone.screenshot(path=OUT / "run-late-seat-phone.png")
    phone.locator(".rejudge").scroll_into_view_if_needed()
    phone.screenshot(path=OUT / "run-rejudge-phone.png")
    page.goto(f"{url}/")
    ask(page, "Compare only", PROMPT)
    expect(page.locator(".seats .totals")).to_be_visible(timeout=60_000)
    whole_page(page, OUT / "run-compare-only.png")


EVAL_GRADER = "mistralai/mistral-medium-3"


def evaluate_shots(page: Page, sim: SimulatorThread, env: dict[str, str], url: str) -> None:
    """An evaluation of the starter suite: the form, its progress mid-run, the report with its
    plots, one task's verdicts, and the report on a phone."""
    browser = page.context.browser
    assert browser is not None
    page.goto(f"{url}/evaluations/")
    page.get_by_role("button", name="Add the starter suite").click()
    page.get_by_role("checkbox", name="Budget").check()
    page.get_by_label("A single model").fill("openai/gpt-5.5")
    page.get_by_label("Self-fusion: model ×").fill("deepseek/deepseek-v4-pro")
    page.get_by_label("Copies").fill("2")
    page.get_by_label("Grader model").fill(EVAL_GRADER)
    page.get_by_label("Passes").fill("2")
    page.get_by_label("Concurrency").fill("8")
    page.get_by_label("Max cost (USD)").fill("5")
    page.get_by_role("button", name="Estimate the cost").click()
    expect(page.locator("#estimate")).to_contain_text("Estimate")
    page.screenshot(path=OUT / "evaluate-new.png", full_page=True)
    page.get_by_role("button", name="Start the evaluation").click()
    progress = page.locator("#eval-progress")
    expect(progress).to_contain_text(re.compile(r"\b([6-9]|[1-3]\d) of 36 answers"), timeout=60_000)
    page.screenshot(path=OUT / "evaluate-progress.png")
    expect(progress).to_contain_text("Done", timeout=300_000)
    for plot in ("#plot-score-cost", "#plot-domains"):
        page.wait_for_function("id => document.querySelector(id).naturalWidth > 0", arg=plot)
    page.screenshot(path=OUT / "evaluate-report.png", full_page=True)
    report = page.url
    page.get_by_role("link", name="sci-sky").click()
    page.screenshot(path=OUT / "evaluate-task.png", full_page=True)
    phone = browser.new_context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto(report)
    phone.wait_for_function("document.querySelector('#plot-score-cost').naturalWidth > 0")
    phone.screenshot(path=OUT / "evaluate-phone.png", full_page=True)
    phone.context.close()
    state = page.context.storage_state()
    dark = browser.new_context(viewport=LAPTOP, storage_state=state, color_scheme="dark")
    dark_page = dark.new_page()
    dark_page.goto(report)
    dark_page.wait_for_function("document.querySelector('#plot-domains').naturalWidth > 0")
    dark_page.screenshot(path=OUT / "evaluate-dark.png")
    dark.close()
    page.goto(f"{url}/evaluations/")
    page.screenshot(path=OUT / "evaluate-list.png")


SHOTS = {
    "chatroom": chatroom_shots,
    "auto-fuse": auto_fuse_shots,
    "builder": builder_shots,
    "judging": judging_shots,
    "evaluate": evaluate_shots,
}


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(SHOTS))
    if unknown:
        sys.exit(f"No such screenshots: {', '.join(unknown)} (there are {', '.join(SHOTS)}).")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, SimulatorThread(time_scale=0.5) as sim:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch}/screens.sqlite3",
            "FUSIONROOM_DEMO": "1",
            "FUSIONROOM_SIMULATOR_URL": sim.base_url,
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        server, url = start_server(env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
                )
                page = browser.new_page(viewport=LAPTOP)
                page.goto(f"{url}/accounts/signup/")
                page.get_by_label("Username").fill("ada")
                page.get_by_label("Password", exact=True).fill("screens-only-pass-42")
                page.get_by_label("Password confirmation").fill("screens-only-pass-42")
                page.get_by_role("button", name="Sign up").click()
                for name in names or list(SHOTS):
                    SHOTS[name](page, sim, env, url)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"Wrote {', '.join(sorted(path.name for path in OUT.glob('*.png')))} to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
