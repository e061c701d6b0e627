"""Take the README's screenshots, in demo mode: the chatroom mid-run and after a run at 1440 px,
the same conversation on a 390 px phone (and its drawer), a five-seat run, and dark mode.

Run with `make screenshots`. It starts its own simulator and Daphne on a scratch database,
so it touches nothing of yours, and writes docs/screenshots/*.png.
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


def add_five_seat_panel(env: dict[str, str]) -> None:
    """A saved panel of five seats for ada, written to the scratch database by a shell command:
    the builder has tests of its own, and clicking it through here adds nothing to the picture."""
    code = (
        "from django.contrib.auth.models import User; from chat.models import Panel; "
        "Panel.objects.create(owner=User.objects.get(username='ada'), name='Five seats', "
        f"seats={FIVE_SEATS!r}, judge='google/gemini-3-flash-preview')"
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


def main() -> None:
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

                add_five_seat_panel(env)
                page.goto(f"{url}/")
                ask(page, "Five seats", FIVE_PROMPT)
                finished(page)
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=OUT / "chatroom-five-seats.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"Wrote {', '.join(sorted(path.name for path in OUT.glob('*.png')))} to {OUT}")


if __name__ == "__main__":
    main()
