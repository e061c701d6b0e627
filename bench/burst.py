"""Benchmark 4, one arrival (issue 22 point 2): what it costs the server — its POST, its first page,
its socket's connect — measured alone, then N runs sent in the same instant on the same Daphne.

From the outside, as benchmarks 1-4: Daphne's CPU (utime + stime, /proc, 10 ms ticks) over a
phase of `n` sequential arrivals of one kind, less what the idle process spends in as long (the
lag probe wakes every 10 ms), ÷ n. The seats are held before their first token while the costs are
taken, so no run streams in the window; each run's start (its task, first snapshot, five
requests to the simulator) follows its POST and is counted with it, as it is in an arrival.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from bench import live
from bench.common import FIVE, median

# Seconds to let a phase's last piece of work (a run's start after its POST) settle.
SETTLE_S = 0.3


async def _idle_rate(daphne: live.Daphne, seconds: float = 2.0) -> float:
    """Daphne's CPU seconds per second while no request comes."""
    cpu0, t0 = live.cpu_of(daphne.pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (live.cpu_of(daphne.pid) - cpu0) / (time.monotonic() - t0)


async def _phase(daphne: live.Daphne, work: Any, n: int) -> tuple[float, float, list[float]]:
    """n sequential calls of `work`: Daphne's CPU seconds, the phase's seconds, each call's wall ms."""
    walls = []
    cpu0, t0 = live.cpu_of(daphne.pid), time.monotonic()
    for i in range(n):
        started = time.monotonic()
        await work(i)
        walls.append((time.monotonic() - started) * 1000)
    await asyncio.sleep(SETTLE_S)
    return live.cpu_of(daphne.pid) - cpu0, time.monotonic() - t0, walls


async def arrival_costs(
    base: str, daphne: live.Daphne, sim: Any, user: live.User, panel: str, n: int
) -> dict[str, Any]:
    """CPU ms per POST (with its run's start), per first page and per socket connect (to the run's
    first snapshot), over n arrivals each; the sidebar then lists at least n conversations."""
    for model in FIVE:
        sim.configure(model, ttft_s=0.0, tokens_per_second=1000, answer_tokens=5)
        sim.hold(model)
    idle = await _idle_rate(daphne)
    headers = {"HX-Request": "true", "X-CSRFToken": user.http.cookies["csrftoken"], "Referer": base + "/"}
    pages: list[str] = []

    async def post(i: int) -> None:
        response = await user.http.post(
            "/send/",
            data={"message": f"Arrival {i}: what does a send cost?", "panel": panel},
            headers=headers,
        )
        target = response.headers.get("HX-Redirect")
        assert target, f"no HX-Redirect from /send/ ({response.status_code})"
        pages.append(target)

    post_cpu, post_s, post_walls = await _phase(daphne, post, n)
    run_ids: list[int] = []

    async def page(i: int) -> None:
        html = (await user.http.get(pages[i])).text
        found = re.search(r'ws-connect="/ws/runs/(\d+)/"', html)
        assert found, "the page has no live run"
        run_ids.append(int(found.group(1)))

    page_cpu, page_s, page_walls = await _phase(daphne, page, n)
    ws_base = base.replace("http", "ws", 1)

    async def connect(i: int) -> None:
        url = f"{ws_base}/ws/runs/{run_ids[i]}/"
        async with user.ws.ws_connect(url, headers={"Cookie": user.cookie_header, "Origin": base}) as ws:
            await ws.receive(timeout=30)  # the run's snapshot

    socket_cpu, socket_s, socket_walls = await _phase(daphne, connect, n)
    # The held streams' keep-alive comments (one a second each) cost a little: measured now, with
    # all n held, and taken off each phase (half of it off the POSTs', as their runs came one by one).
    held = await _idle_rate(daphne) - idle
    sim.release()
    # The held runs answer now (five tokens a seat); wait for their ends before the next phase.
    await asyncio.sleep(3.0)
    return {
        "n": n,
        "idle_cpu_pct": idle * 100,
        "held_cpu_pct": held * 100,
        "post_cpu_ms": (post_cpu - (idle + held / 2) * post_s) / n * 1000,
        "page_cpu_ms": (page_cpu - (idle + held) * page_s) / n * 1000,
        "socket_cpu_ms": (socket_cpu - (idle + held) * socket_s) / n * 1000,
        "post_wall_ms_p50": median(post_walls),
        "page_wall_ms_p50": median(page_walls),
        "socket_wall_ms_p50": median(socket_walls),
        "page_bytes": len((await user.http.get(pages[-1])).content),
    }
