"""Benchmark 13: Stop. A run stopped while its seats stream must end within a frame or two.

From the outside, as a person stops a run: the chatroom's Stop (POST /runs/<id>/stop/, as the
composer's button sends it) while the Budget panel's seats are mid-answer, at a pace that would
take them a minute and a half to finish. Time to stopped = the arrival of the run's final
snapshot (not running) on its websocket − the moment the Stop was sent. The frame clock is
50 ms (chat/runs/pacing.py), so "a frame or two" is ≤ 100 ms.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp

from bench import live
from bench.common import BUDGET, PROMPT, median, pct

# Slow enough that a Stop that waits for the answers shows as a minute, not a few milliseconds.
SEAT_TOKENS, SEAT_TPS = 1800, 20


async def stop_once(user: live.User, panel: str) -> dict[str, Any]:
    csrf = user.http.cookies["csrftoken"]
    headers = {"HX-Request": "true", "X-CSRFToken": csrf, "Referer": user.base + "/"}
    response = await user.http.post(
        "/send/", data={"message": f"{PROMPT} (stop {time.monotonic()})", "panel": panel}, headers=headers
    )
    page = (await user.http.get(response.headers["HX-Redirect"])).text
    found = re.search(r'ws-connect="/ws/runs/(\d+)/"', page)
    assert found, "the page has no live run"
    run_id = int(found.group(1))
    url = user.base.replace("http", "ws", 1) + f"/ws/runs/{run_id}/"
    async with user.ws.ws_connect(url, headers={"Cookie": user.cookie_header, "Origin": user.base}) as ws:
        streaming: set[int] = set()
        while len(streaming) < len(BUDGET):  # every seat has shown text: mid-answer
            message = await ws.receive(timeout=60)
            assert message.type == aiohttp.WSMsgType.TEXT, f"the socket ended: {message.type}"
            for seat in range(len(BUDGET)):
                if f'id="run-{run_id}-seat-{seat}-tail" hx-swap-oob="innerHTML"' in message.data:
                    streaming.add(seat)
        await asyncio.sleep(0.5)  # well into the answers
        t_stop = time.monotonic()
        answer = await user.http.post(f"/runs/{run_id}/stop/", headers=headers)
        t_answered = time.monotonic()
        assert answer.status_code == 204, f"Stop answered {answer.status_code}"
        while True:
            message = await ws.receive(timeout=300)
            assert message.type == aiohttp.WSMsgType.TEXT, f"the socket ended: {message.type}"
            data = message.data.lstrip()
            if data.startswith('<section class="run ') and 'data-status="running"' not in data:
                return {
                    "run_id": run_id,
                    "stopped_ms": (time.monotonic() - t_stop) * 1000,
                    "answered_ms": (t_answered - t_stop) * 1000,
                    "status": re.search(r'data-status="(\w+)"', data).group(1),  # type: ignore[union-attr]
                }


async def stop_benchmarks(base: str, sim: Any, quick: bool) -> dict[str, Any]:
    user = live.User(base)
    await user.sign_up("bench-stop")
    panel = user.panel_id(await user.home(), "Budget")
    live.configure_budget(sim, tps=SEAT_TPS, tokens=SEAT_TOKENS, ttft=0.2)
    try:
        stops = [await stop_once(user, panel) for _ in range(1 if quick else 3)]
    finally:
        await user.close()
        live.configure_budget(sim)  # back to benchmark 1's pace: the Budget's judge judges others' panels too
    stopped = [s["stopped_ms"] for s in stops]
    return {
        "runs": len(stops),
        "would_take_s": SEAT_TOKENS / SEAT_TPS,
        "stopped_ms": stopped,
        "stopped_ms_p50": median(stopped),
        "stopped_ms_max": max(stopped),
        "stopped_ms_p95": pct(stopped, 95),
        "answered_ms_p50": median([s["answered_ms"] for s in stops]),
        "statuses": sorted({s["status"] for s in stops}),
    }
