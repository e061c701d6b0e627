"""Benchmark 7: the server's CPU per relayed token over benchmark 1's sequential runs, and a bare relay's.

`python -m bench --only cpu --no-write` runs just these (the sequential Budget runs of 1 and the
relay, ~60 s; rows 1, 3 and 7); with BENCH_PYSPY=out.txt set, py-spy records Daphne during the
runs (`--format raw`: one line a stack with its sample count).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import live
from bench.common import BUDGET, ROOT


async def single_runs(
    user: live.User, panel: str, sim: Any, daphne: live.Daphne, runs: int
) -> tuple[list[live.Timeline], dict[str, Any]]:
    """`runs` Budget runs one after the other, as a user makes them (POST, page, socket), and the
    CPU the Daphne process spent over them per token the simulator sent. Its loop-lag probe is
    paused meanwhile: a hundred wake-ups a second of the benchmark's own, ~5 % of that CPU."""
    profiler = _py_spy(daphne.pid)
    daphne.pause_probe()
    await asyncio.sleep(0.1)
    cpu0 = live.cpu_of(daphne.pid)
    t0 = time.monotonic()
    timelines = [await user.run(panel, BUDGET, sim) for _ in range(runs)]
    cpu1 = live.cpu_of(daphne.pid)
    daphne.pause_probe()  # resumed
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await asyncio.to_thread(profiler.wait, 30)
    tokens = sum(r.completion_tokens for r in sim.requests_after(t0))
    figures = {"cpu_s": cpu1 - cpu0, "tokens": tokens, "us_per_token": (cpu1 - cpu0) / tokens * 1e6}
    return timelines, figures


RELAY_RUNS = 4


async def relay_cpu(sim: Any, sim_url: str, timelines: list[live.Timeline]) -> dict[str, Any]:
    """The same calls through the bare relay (bench/relay.py), its CPU per token."""
    relay, port = live.start_relay(sim_url)
    try:
        await asyncio.sleep(0.5)
        cpu0 = live.cpu_of(relay.pid)
        t0 = time.monotonic()
        # Four runs' calls are enough for a figure per token, and keep make bench under ten minutes.
        await live.relay_workload(port, timelines[:RELAY_RUNS], len(BUDGET))
        cpu1 = live.cpu_of(relay.pid)
        tokens = sum(r.completion_tokens for r in sim.requests_after(t0))
        return {"cpu_s": cpu1 - cpu0, "tokens": tokens, "us_per_token": (cpu1 - cpu0) / tokens * 1e6}
    finally:
        assert relay.stdin is not None
        relay.stdin.close()
        relay.wait(timeout=10)


async def cpu_alone(
    base: str, sim: Any, daphne: live.Daphne, sim_url: str, quick: bool, results: dict[str, Any]
) -> list[live.Timeline]:
    """Benchmark 7 without the others (--only cpu): an account, a warm-up run, 1's sequential
    runs and the relay; fills `results` as live_benchmarks does for rows 1, 3 and 7."""
    user = live.User(base)
    await user.sign_up("bench-cpu")
    budget = user.panel_id(await user.home(), "Budget")
    live.configure_budget(sim, tokens=80 if quick else 300)
    warm = await user.run(budget, BUDGET, sim)  # the catalog, the connections
    results["warmup"] = {"wall_s": warm.wall, "critical_s": warm.critical, "ratio": warm.wall / warm.critical}
    timelines, results["cpu_app"] = await single_runs(user, budget, sim, daphne, 1 if quick else 6)
    await user.close()
    results["cpu_relay"] = await relay_cpu(sim, sim_url, timelines)
    return timelines


def _py_spy(pid: int) -> subprocess.Popen[bytes] | None:
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return None
    spy = ROOT / ".venv" / "bin" / "py-spy"
    command = [str(spy), "record", "-p", str(pid), "-f", "raw", "-r", "200", "-o", str(Path(out).resolve())]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the runs start
    return process
