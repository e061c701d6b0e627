"""Take the README's screenshots: the chatroom mid-run and after a run, in demo mode.

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

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from chat.simulator import SimulatorThread  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PROMPT = "Our five-person team runs a chat app on SQLite. Should we move to PostgreSQL now, and how?"


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
                page = browser.new_page(viewport={"width": 1366, "height": 1000})
                page.goto(f"{url}/accounts/signup/")
                page.get_by_label("Username").fill("ada")
                page.get_by_label("Password", exact=True).fill("screens-only-pass-42")
                page.get_by_label("Password confirmation").fill("screens-only-pass-42")
                page.get_by_role("button", name="Sign up").click()
                page.get_by_label("Panel").select_option(label="Budget")
                page.get_by_role("textbox", name="Message").fill(PROMPT)
                # Hold every seat part-way through its answer, so the picture shows all the
                # columns mid-stream; then let them finish.
                seats = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
                for model in seats:
                    sim.hold(model, after_tokens=200)
                page.get_by_role("button", name="Send").click()
                for model in seats:
                    answer = page.get_by_role("region", name=model).locator(".markdown")
                    expect(answer).to_contain_text("Where I come down", timeout=30_000)
                page.screenshot(path=OUT / "chatroom-mid-run.png")
                sim.release()
                expect(page.locator(".fused .totals")).to_be_visible(timeout=60_000)
                # The composer sticks to the bottom of the window; in a whole-page picture it
                # would float over the middle.
                # Through the CSSOM: an inline <style> would be refused by our CSP (style-src 'self').
                page.locator(".composer").evaluate("element => { element.style.position = 'static'; }")
                page.screenshot(path=OUT / "chatroom-after-run.png", full_page=True)
                # The same finished conversation on a phone, 390 px wide, as its owner sees it.
                phone = browser.new_context(
                    viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state()
                )
                phone_page = phone.new_page()
                phone_page.goto(page.url)
                expect(phone_page.locator(".fused .totals")).to_be_visible(timeout=30_000)
                phone_page.screenshot(path=OUT / "chatroom-phone.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"Wrote chatroom-mid-run.png, chatroom-after-run.png and chatroom-phone.png to {OUT}")


if __name__ == "__main__":
    main()
