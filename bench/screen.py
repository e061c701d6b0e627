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
window.__handled = {};
window.__socketMessages = 0;
const FIRST = /-seat-(\\d+)-(tail|reasoning)" hx-swap-oob/g;
// Where the time goes: the page's own handler of each socket message is wrapped around htmx's,
// stamping when the message reached the page's script and when htmx had swapped it in.
const NativeSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new NativeSocket(url, protocols);
  socket.addEventListener("message", (event) => {
    const reached = performance.now();
    for (const found of String(event.data).matchAll(FIRST)) {
      if (!(found[1] in window.__handled)) window.__handled[found[1]] = { reached: reached, swapped: null };
    }
  });
  return socket;
};
window.WebSocket.prototype = NativeSocket.prototype;
Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
document.addEventListener("htmx:wsAfterMessage", (event) => {
  window.__socketMessages += 1;
  const swapped = performance.now();
  for (const found of String(event.detail.message).matchAll(FIRST)) {
    const seen = window.__handled[found[1]];
    if (seen && seen.swapped === null) seen.swapped = swapped;
  }
});
new MutationObserver(() => {
  const inDom = performance.now();
  for (const element of document.querySelectorAll('[id*="-seat-"]')) {
    const found = element.id.match(/-seat-(\\d+)-(tail|blocks|reasoning)$/);
    if (!found || found[1] in window.__onScreen || !element.textContent.trim()) continue;
    const seen = { dom: inDom, painted: null };
    window.__onScreen[found[1]] = seen;
    requestAnimationFrame((frame) => { seen.painted = frame; });
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


async def page_clock(page: Any) -> float:
    """The page's performance.now() origin on time.monotonic()'s clock, in seconds: the round trip
    with the smallest delay of a few, its midpoint. Chromium's performance.now() counts from a
    monotonic origin (CLOCK_MONOTONIC on Linux, the clock the simulator stamps with)."""
    best = (float("inf"), 0.0)
    for _ in range(15):
        before = time.monotonic()
        now_ms = await page.evaluate("() => performance.now()")
        after = time.monotonic()
        best = min(best, (after - before, (before + after) / 2 - now_ms / 1000))
    return best[1]


def since(sent: float, origin: float, stamp_ms: float) -> float:
    """Milliseconds from `sent` (monotonic seconds) to a page's performance.now() stamp."""
    return (origin + stamp_ms / 1000 - sent) * 1000


async def first_token_on_screen(base: str, sim: Any, runs: int) -> dict[str, Any]:
    """Milliseconds from each seat's first token leaving the simulator to it being in the page's
    DOM, and to the next frame being painted; and where that time goes."""
    from playwright.async_api import async_playwright

    in_dom: list[float] = []
    painted: list[float] = []
    skew: list[float] = []
    stages: dict[str, list[float]] = {"socket": [], "browser": [], "htmx": [], "observer": [], "paint": []}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        # The browser's own record of each socket message's arrival (CDP timestamps are the
        # browser's monotonic clock, time.monotonic()'s): before the page's script could see it.
        arrivals: list[tuple[float, str]] = []
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        cdp.on(
            "Network.webSocketFrameReceived",
            lambda frame: arrivals.append((frame["timestamp"], frame["response"]["payloadData"])),
        )
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
            origin = await page_clock(page)  # this page's performance.now() on the monotonic clock
            # What the wall clocks (round 2's method) would have put there instead.
            wall_origin = await page.evaluate("() => performance.timeOrigin") / 1000
            wall = wall_origin - (time.time() - time.monotonic())
            skew.append((wall - origin) * 1000)
            arrivals.clear()
            sim.release()
            seats = len(BUDGET)
            painted_all = f"() => Object.values(window.__onScreen).filter(s => s.painted).length >= {seats}"
            await page.wait_for_function(painted_all)
            stamps = await page.evaluate("() => window.__onScreen")
            handled = await page.evaluate("() => window.__handled")
            records = [r for r in sim.requests if nonce in json.dumps(r.body)]
            for seat, model in enumerate(BUDGET):
                sent = next(r for r in records if r.model == model).first_token_at
                in_dom.append(since(sent, origin, stamps[str(seat)]["dom"]))
                painted.append(since(sent, origin, stamps[str(seat)]["painted"]))
                marks = (f'-seat-{seat}-tail" hx-swap-oob', f'-seat-{seat}-reasoning" hx-swap-oob')
                arrived = next((at for at, data in arrivals if any(m in data for m in marks)), None)
                mine = handled.get(str(seat))
                if arrived is None or mine is None or mine["swapped"] is None:
                    continue
                reached, swapped = since(sent, origin, mine["reached"]), since(sent, origin, mine["swapped"])
                stages["socket"].append((arrived - sent) * 1000)
                stages["browser"].append(reached - (arrived - sent) * 1000)
                stages["htmx"].append(swapped - reached)
                stages["observer"].append(in_dom[-1] - swapped)
                stages["paint"].append(painted[-1] - in_dom[-1])
            await page.wait_for_selector('section.run[data-status="done"]', timeout=120_000)
        await browser.close()
    return {"in_dom_ms": in_dom, "painted_ms": painted, "stages_ms": stages, "clock_skew_ms": skew}
