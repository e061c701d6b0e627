"""Benchmark 2, on screen: a seat's first token from the simulator to Debian's Chromium's page.

A real browser (Playwright) signs up, sends the question through the form and follows the run as
a user would. Each seat is held before its first token until the page's socket has its first
message, so every first token travels as a live frame. A MutationObserver (installed before the
page's own scripts) stamps, per seat, the moment its column first holds text or reasoning (in the
DOM) and the timestamp of the next animation frame (painted; Chromium gives the frame's start,
which can fall a little before the mutation's stamp). Chromium stamps wall-clock milliseconds; the
simulator stamps time.monotonic(), so one offset between the two clocks is taken here.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.common import BUDGET, PASSWORD, PROMPT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

OBSERVER = """
window.__onScreen = {};
window.__socketMessages = 0;
document.addEventListener("htmx:wsAfterMessage", () => { window.__socketMessages += 1; });
new MutationObserver(() => {
  const inDom = performance.timeOrigin + performance.now();
  for (const element of document.querySelectorAll('[id*="-seat-"]')) {
    const found = element.id.match(/-seat-(\\d+)-(tail|blocks|reasoning)$/);
    if (!found || found[1] in window.__onScreen || !element.textContent.trim()) continue;
    const seen = { dom: inDom, painted: null };
    window.__onScreen[found[1]] = seen;
    requestAnimationFrame((frame) => { seen.painted = performance.timeOrigin + frame; });
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


async def first_token_on_screen(base: str, sim: Any, runs: int) -> dict[str, list[float]]:
    """Milliseconds from each seat's first token leaving the simulator to it being in the page's
    DOM, and to the next frame being painted."""
    from playwright.async_api import async_playwright

    clock_offset = time.time() - time.monotonic()  # wall clock = monotonic + offset
    in_dom: list[float] = []
    painted: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        # Playwright's own script, outside the page's CSP (which forbids eval): so every
        # expression it evaluates below is a function, not a string of code.
        await page.add_init_script(OBSERVER)
        await page.goto(f"{base}/accounts/signup/")
        await page.get_by_label("Username").fill("screen")
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_label("Password confirmation").fill(PASSWORD)
        await page.get_by_role("button", name="Sign up").click()
        for number in range(runs):
            nonce = f"(on screen {number})"
            for model in BUDGET:
                sim.hold(model)
            await page.goto(f"{base}/")
            await page.get_by_label("Panel").select_option(label="Budget")
            await page.get_by_role("textbox", name="Message").fill(f"{PROMPT} {nonce}")
            await page.get_by_role("button", name="Send").click()
            # The run's page has loaded and its socket has had the run's snapshot: let the seats go.
            await page.wait_for_function("() => window.__socketMessages > 0")
            sim.release()
            seats = len(BUDGET)
            painted_all = f"() => Object.values(window.__onScreen).filter(s => s.painted).length >= {seats}"
            await page.wait_for_function(painted_all)
            stamps = await page.evaluate("() => window.__onScreen")
            records = [r for r in sim.requests if nonce in json.dumps(r.body)]
            for seat, model in enumerate(BUDGET):
                record = next(r for r in records if r.model == model)
                sent = (record.first_token_at + clock_offset) * 1000
                in_dom.append(stamps[str(seat)]["dom"] - sent)
                painted.append(stamps[str(seat)]["painted"] - sent)
            await page.wait_for_selector('section.run[data-status="done"]', timeout=120_000)
        await browser.close()
    return {"in_dom_ms": in_dom, "painted_ms": painted}
