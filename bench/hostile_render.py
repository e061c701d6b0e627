"""Benchmark 10: another user's page latency while a hostile seat streams 2 MB of pathological markdown.

Daphne in a subprocess (as in bench/live.py), demo mode, against the simulator in its own process.
One seat of user A's Budget panel answers with a `flood_answer`: thousands of lines of "[" with no
blank line (markdown-it's worst case, tens of µs a character), a thousand characters a chunk at
200 chunks a second. A sends the question through /send/ and follows the run on its websocket, so
frames are rendered (the expensive path). Meanwhile user B, in a browser of their own, loads light
pages one after the other — the sign-in page signed out, and their own home page signed in — and
each latency is recorded, until A's run has ended (or a count or time limit is reached).

Daphne runs with FUSIONROOM_MAX_ANSWER_CHARS above the answer's size, so the whole answer streams:
what is measured is rendering, not the answer cap (which would end the call at 200,000 characters).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench import live
from bench.common import BUDGET, median, pct
from bench.simproc import SimulatorProcess

TARGET_P99_MS = 100.0
HOSTILE_SEAT = 2  # deepseek/deepseek-v4-pro: not the judge's model
UNIT = "[\n"  # a line of "[", again and again, no blank line: what cost up to 35 s a page before
CHUNKS_PER_SECOND = 200  # a thousand characters a chunk: 200 kB/s


async def _pages(
    base: str, viewer: live.User, done: asyncio.Event, limit: int, seconds: float
) -> dict[str, Any]:
    """B's sequential page loads until `done`, `limit` requests or `seconds`."""
    latencies: dict[str, list[float]] = {"/accounts/login/": [], "/": []}
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as anonymous:
        clients = [("/accounts/login/", anonymous), ("/", viewer.http)]
        deadline = time.monotonic() + seconds
        count = 0
        while not done.is_set() and count < limit and time.monotonic() < deadline:
            path, client = clients[count % 2]
            started = time.monotonic()
            response = await client.get(path)
            latencies[path].append((time.monotonic() - started) * 1000)
            errors += response.status_code != 200
            count += 1
    return {"latencies_ms": latencies, "errors": errors}


async def measure(database: Path, scratch: Path, quick: bool) -> dict[str, Any]:
    answer_chars = (200 if quick else 2048) * 1024
    limit, seconds = (2_000, 60.0) if quick else (20_000, 400.0)
    hostile = BUDGET[HOSTILE_SEAT]
    with SimulatorProcess() as sim:
        from bench.common import migrate

        migrate(database, sim.base_url)
        live.configure_budget(sim, tokens=80 if quick else 300)
        sim.configure(
            hostile,
            fault="flood_answer",
            fault_text=UNIT,
            fault_body_bytes=answer_chars,
            tokens_per_second=CHUNKS_PER_SECOND,
        )
        cap = str(answer_chars + 500_000)
        daphne = live.Daphne(
            database, sim.base_url, scratch / "daphne-hostile.log", {"FUSIONROOM_MAX_ANSWER_CHARS": cap}
        )
        try:
            attacker, viewer = live.User(daphne.url), live.User(daphne.url)
            await attacker.sign_up("hostile")
            await viewer.sign_up("viewer")
            budget = attacker.panel_id(await attacker.home(), "Budget")
            # Warm both pages, and the run path, before measuring.
            idle = await _pages(daphne.url, viewer, asyncio.Event(), 40, 30.0)
            done = asyncio.Event()
            cpu0 = live.cpu_of(daphne.pid)
            started = time.monotonic()

            async def attack() -> live.Timeline:
                try:
                    return await attacker.run(budget, BUDGET, sim)
                finally:
                    done.set()

            timeline, loaded = await asyncio.gather(
                attack(), _pages(daphne.url, viewer, done, limit, seconds)
            )
            wall = time.monotonic() - started
            cpu = live.cpu_of(daphne.pid) - cpu0
            await attacker.close()
            await viewer.close()
        finally:
            daphne.stop()
        record = next(
            (r for r in sim.requests_after(started) if r.model == hostile and r.first_token_at is not None),
            None,
        )
    every = [x for values in loaded["latencies_ms"].values() for x in values]
    quiet = [x for values in idle["latencies_ms"].values() for x in values]
    per_page = {
        path: {"p50": median(v), "p99": pct(v, 99), "max": max(v, default=float("nan")), "n": len(v)}
        for path, v in loaded["latencies_ms"].items()
    }
    return {
        "answer_chars": answer_chars,
        "unit": UNIT,
        "chunks_per_second": CHUNKS_PER_SECOND,
        "max_answer_chars": int(cap),
        "sent_chars": answer_chars if record and record.finished_at else None,
        "simulator_stream_s": (record.finished_at - record.first_token_at)
        if record and record.finished_at
        else None,
        "simulator_outcome_bytes": record.bytes_sent if record else None,
        "run_wall_s": timeline.wall,
        "measured_s": wall,
        "daphne_cpu_s": cpu,
        "daphne_cpu_pct": cpu / wall * 100,
        "frames": len(timeline.frames),
        "count": len(every),
        "errors": loaded["errors"],
        "p50_ms": median(every),
        "p99_ms": pct(every, 99),
        "max_ms": max(every, default=float("nan")),
        "per_page": per_page,
        "idle_p50_ms": median(quiet),
        "idle_p99_ms": pct(quiet, 99),
        "target_p99_ms": TARGET_P99_MS,
    }
