"""python -m bench [--quick] [--only live,inproc]: run the benchmarks, write bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from bench import api, burst, cluster, cpu, hostile_render, live, passthrough, quorum, report, screen, stop
from bench.common import BUDGET, FIVE, ROOT, app_env, machine, median, migrate, pct, pin
from bench.simproc import SimulatorProcess


def fidelity(timelines: list[live.Timeline]) -> dict[str, Any]:
    """Every token once, in order: what the socket built for each seat equals the saved text, rendered."""
    from chat.models import SeatAnswer
    from chat.rendering import StreamingMarkdown, render_markdown

    checked = mismatched = skipped = 0
    token_mismatch = 0
    examples: list[dict[str, Any]] = []
    for t in timelines:
        answers = {a.index: a for a in SeatAnswer.objects.filter(run_id=t.run_id)}
        for seat in range(t.seats):
            record = t.records[seat]
            if answers[seat].completion_tokens != record.completion_tokens:
                token_mismatch += 1
            if t.frames[0][0] >= (record.first_token_at or 0):
                skipped += 1  # the socket opened after the first token: a snapshot carried some text
                continue
            prefix = f"run-{t.run_id}-seat-{seat}"
            # This seat's appended blocks in a message (which may carry other columns' news too):
            # its blocks are always followed at once by its own tail.
            pattern = re.compile(
                rf'<div id="{prefix}-blocks" hx-swap-oob="beforeend">(.*?)'
                rf'</div><div id="{prefix}-tail" hx-swap-oob="innerHTML">',
                re.DOTALL,
            )
            blocks = "".join(
                found.group(1) for _, html in t.text_frames(seat) for found in pattern.finditer(html)
            )
            settled, whole_tail = StreamingMarkdown().feed(answers[seat].text)
            checked += 1
            # The last tokens may reach the page in the column's final frame (its saved text), so:
            # the streamed blocks are a prefix of the saved text's, and the final frame shows all of it.
            streamed, saved = blocks, "".join(settled) + whole_tail
            final = re.compile(rf'<section class="column seat[^"]*" id="{prefix}"')
            finals = [h for _, h in t.frames if final.search(h)]
            whole = render_markdown(answers[seat].text)
            if not saved.startswith(streamed) or not finals or whole not in finals[-1]:
                mismatched += 1
                at = next(
                    (i for i, (a, b) in enumerate(zip(streamed, saved, strict=False)) if a != b),
                    min(len(streamed), len(saved)),
                )
                examples.append(
                    {
                        "run": t.run_id,
                        "seat": seat,
                        "len": [len(streamed), len(saved)],
                        "streamed": streamed[max(0, at - 80) : at + 120],
                        "saved": saved[max(0, at - 80) : at + 120],
                    }
                )
            if answers[seat].completion_tokens != record.completion_tokens:
                examples.append(
                    {
                        "run": t.run_id,
                        "seat": seat,
                        "tokens": [answers[seat].completion_tokens, record.completion_tokens],
                    }
                )
    return {
        "seats_checked": checked,
        "seats_mismatched": mismatched,
        "seats_skipped": skipped,
        "token_count_mismatches": token_mismatch,
        "examples": examples[:4],
    }


def single_figures(timelines: list[live.Timeline], results: dict[str, Any]) -> None:
    """Rows 1 and 3 from benchmark 1's sequential runs."""
    results["single"] = {
        "runs": len(timelines),
        "ratios": [t.wall / t.critical for t in timelines],
        "diffs_ms": [(t.wall - t.critical) * 1000 for t in timelines],
        "walls_s": [t.wall for t in timelines],
        "criticals_s": [t.critical for t in timelines],
        "stages_ms": [t.stages_ms() for t in timelines],
    }
    results["ttft_ms"] = [x * 1000 for t in timelines for x in live.seat_ttft_overheads(t)]
    results["frames_per_token"] = [
        len(t.seat_frames(s)) / t.records[s].completion_tokens for t in timelines for s in range(3)
    ]
    results["seat_tps"] = [
        t.records[s].completion_tokens / (t.records[s].finished_at - t.records[s].first_token_at)
        for t in timelines
        for s in range(3)
    ]
    gaps = [g * 1000 for t in timelines for g in live.seat_gaps(t)]
    results["gaps_ms"] = {"max": max(gaps), "p99": pct(gaps, 99), "p50": pct(gaps, 50)}


# Benchmark 1's sequential runs: six, not ten since round 3 (make bench must stay under ten
# minutes with the rows round 3 added).
SINGLE_RUNS = 6


async def live_benchmarks(
    base: str,
    sim: Any,
    daphne: live.Daphne,
    quick: bool,
    database: Path,
    sim_url: str,
    results: dict[str, Any],
) -> list[live.Timeline]:
    user = live.User(base)
    await user.sign_up("bench")
    home = await user.home()
    budget = user.panel_id(home, "Budget")

    # 1-3: sequential single runs of the Budget preset at 120 tokens/s per seat.
    live.configure_budget(sim, tokens=80 if quick else 300)
    warm = await user.run(budget, BUDGET, sim)  # the first run also fetches the model catalog
    results["warmup"] = {"wall_s": warm.wall, "critical_s": warm.critical, "ratio": warm.wall / warm.critical}
    runs = 1 if quick else SINGLE_RUNS
    timelines, results["cpu_app"] = await cpu.single_runs(user, budget, sim, daphne, runs)
    single_figures(timelines, results)
    # 2, on screen: the same Budget runs, followed by Chromium instead of a websocket client.
    results["on_screen"] = await screen.first_token_on_screen(base, sim, 1 if quick else 5)
    # 7: the same calls through a bare relay.
    results["cpu_relay"] = await cpu.relay_cpu(sim, sim_url, timelines)

    # 4: N concurrent runs of five seats at 50 tokens/s each.
    await capacity_rows(user, daphne, sim, quick, database, sim_url, results)
    await user.close()
    # 11: the same runs over the API (/v1/chat/completions, streamed).
    results["api"] = await api.api_benchmarks(base, "bench", sim, quick)
    # 11, pass-through: a plain model over the API against the simulator direct and a bare relay.
    results["passthrough"] = await passthrough.passthrough_benchmarks(
        base, "bench", sim, sim_url, daphne, quick
    )
    # 12: one seat 10 s slower than the others, the panel waiting for it or judged at its quorum.
    results["quorum"] = await quorum.quorum_benchmarks(base, "bench", sim, quick)
    # 13: Stop while the seats stream.
    results["stop"] = await stop.stop_benchmarks(base, sim, quick)

    # 4, scale-out: the same load on two web processes and two run workers (PostgreSQL, Redis).
    if reason := cluster.unavailable():
        results["capacity_cluster"] = {"skipped": reason}
        return timelines
    processes = await asyncio.to_thread(cluster.Cluster, sim_url, database.parent / "cluster.log")
    try:
        first = live.User(processes.urls[0])
        await first.sign_up("bench")
        await asyncio.to_thread(live.create_five_seat_panel, processes.env, "bench")
        five = first.panel_id(await first.home(), "Five")
        live.configure_five(sim, tokens=60 if quick else 250)  # as for 4 (11-13 changed the pace)
        sizes = [2] if quick else [20]
        figures = await capacity(first, five, sim, sizes, processes.pids(), bases=processes.urls)
        apart = [2] if quick else [40]
        figures += await capacity(first, five, sim, apart, processes.pids(), processes.urls, apart=0.1)
        results["capacity_cluster"] = {**processes.layout, "batches": figures}
        await first.close()
    finally:
        await asyncio.to_thread(processes.stop)
    return timelines


async def capacity_rows(
    user: live.User,
    daphne: live.Daphne,
    sim: Any,
    quick: bool,
    database: Path,
    sim_url: str,
    results: dict[str, Any],
    sizes: list[int] | None = None,
) -> None:
    """Benchmark 4 on one process: N runs of five seats at 50 tokens/s each, all sent at once and
    sent 100 ms apart, then forty pinned. `sizes` (--only capacity --sizes) replaces the sizes."""
    await asyncio.to_thread(live.create_five_seat_panel, app_env(database, sim_url), user.username)
    five = user.panel_id(await user.home(), "Five")
    live.configure_five(sim, tokens=60 if quick else 250)
    results["capacity"] = await capacity(
        user, five, sim, sizes or ([2] if quick else [10, 20]), [daphne.pid], lag=daphne
    )
    # The same load arriving as people do, a send every 100 ms, rather than all in one instant.
    results["capacity_apart"] = await capacity(
        user, five, sim, sizes or ([2] if quick else [20, 40]), [daphne.pid], apart=0.1, lag=daphne
    )
    # Forty again with the server alone on one core, the client and the simulator on the other:
    # on two shared cores the client (parsing 40 sockets) and the simulator (10,000 tokens/s)
    # compete with the server, and the figure above is theirs as much as ours.
    if not quick and (os.cpu_count() or 1) >= 2:
        results["capacity_pinned"] = await pinned(
            daphne.pid,
            sim.process.pid,
            capacity(user, five, sim, (sizes or [40])[-1:], [daphne.pid], apart=0.1, lag=daphne),
        )


async def capacity_alone(
    base: str, daphne: live.Daphne, sim: Any, quick: bool, database: Path, sim_url: str, sizes: list[int]
) -> dict[str, Any]:
    """Benchmark 4 without the others (--only capacity): the account first, and a run to warm up."""
    user = live.User(base)
    await user.sign_up("bench")
    live.configure_budget(sim, tokens=40)
    await user.run(user.panel_id(await user.home(), "Budget"), BUDGET, sim)  # the catalog, the connections
    results: dict[str, Any] = {}
    await capacity_rows(user, daphne, sim, quick, database, sim_url, results, sizes or None)
    await user.close()
    return results


async def capacity(
    user: live.User,
    panel: str,
    sim: Any,
    sizes: list[int],
    pids: list[int],
    bases: list[str] | None = None,
    apart: float = 0.0,
    lag: live.Daphne | None = None,
) -> list[dict[str, Any]]:
    """N runs at once, one client each (the same account), for each N; CPU summed over `pids`.
    With several web processes (`bases`), the clients are spread over them in turn. All N send
    in the same instant unless `apart` spaces their sends by that many seconds. `lag`: the Daphne
    whose event-loop lag is read over each batch (bench/probed.py)."""
    bases = bases or [user.base]

    async def arrive(u: live.User, i: int) -> live.Timeline:
        await asyncio.sleep(i * apart)
        return await u.run(panel, FIVE, sim)

    figures = []
    for n in sizes:
        users = [live.User(bases[i % len(bases)]) for i in range(n)]
        for u in users:  # one browser each; the same account
            u.http.cookies.update(user.http.cookies)
        if lag is not None:
            await lag.lag_ms()  # from here
        cpu0 = sum(live.cpu_of(pid) for pid in pids)
        started = time.monotonic()
        batch = await asyncio.gather(*(arrive(u, i) for i, u in enumerate(users)), return_exceptions=True)
        elapsed = time.monotonic() - started
        cpu1 = sum(live.cpu_of(pid) for pid in pids)
        lags = await lag.lag_ms() if lag is not None else []
        ok = [t for t in batch if isinstance(t, live.Timeline)]
        errors = [repr(e)[:200] for e in batch if not isinstance(e, live.Timeline)]
        for u in users:
            await u.close()
        ratios = [t.wall / t.critical for t in ok if len(t.records) >= 7]
        stages = [t.stages_ms() for t in ok if len(t.records) >= 7]
        figures.append(
            {
                "n": n,
                "apart_s": apart,
                "post_ms_p50": median([x["post"] for x in stages]),
                "post_ms_max": max((x["post"] for x in stages), default=float("nan")),
                "completed": len(ok),
                "errors": errors,
                "ratio_p50": median(ratios),
                "ratio_p95": pct(ratios, 95),
                "ratio_max": max(ratios, default=float("nan")),
                "diff_ms_p50": median([(t.wall - t.critical) * 1000 for t in ok]),
                "ttft_ms_p50": median([x * 1000 for t in ok for x in live.seat_ttft_overheads(t)]),
                "ttft_ms_p95": pct([x * 1000 for t in ok for x in live.seat_ttft_overheads(t)], 95),
                "daphne_cpu_pct": (cpu1 - cpu0) / elapsed * 100,
                **(
                    {"lag_ms_p50": pct(lags, 50), "lag_ms_p99": pct(lags, 99), "lag_ms_max": max(lags)}
                    if lags
                    else {}
                ),
            }
        )
        await asyncio.sleep(0.5)
    return figures


async def pinned(
    server: int, simulator: int, measure: Awaitable[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """`measure` with the server on core 0 and the client (this process) and the simulator on
    core 1; every process gets every core back after."""
    every = f"0-{(os.cpu_count() or 1) - 1}"
    for pid, cores in ((server, "0"), (simulator, "1"), (os.getpid(), "1")):
        pin(pid, cores)
    try:
        return await measure
    finally:
        for pid in (server, simulator, os.getpid()):
            pin(pid, every)


async def quorum_alone(base: str, sim: Any, quick: bool) -> dict[str, Any]:
    """Benchmark 12 without the others (--only quorum): the account first, and a run to warm up."""
    user = live.User(base)
    await user.sign_up("bench-quorum")
    home = await user.home()
    live.configure_budget(sim, tokens=40)
    await user.run(user.panel_id(home, "Budget"), BUDGET, sim)  # the catalog, the connections
    await user.close()
    return await quorum.quorum_benchmarks(base, "bench-quorum", sim, quick)


async def screen_alone(base: str, sim: Any, quick: bool) -> dict[str, Any]:
    """Benchmark 2 on screen without the others (--only screen), after a run to warm up."""
    user = live.User(base)
    await user.sign_up("bench-screen")
    live.configure_budget(sim, tokens=80 if quick else 300)
    await user.run(user.panel_id(await user.home(), "Budget"), BUDGET, sim)  # the catalog, the connections
    await user.close()
    return await screen.first_token_on_screen(base, sim, 1 if quick else 5)


async def api_alone(base: str, sim: Any, quick: bool, database: Path, sim_url: str) -> dict[str, Any]:
    """Benchmark 11 without the others (--only api): the account and its five-seat panel first."""
    user = live.User(base)
    await user.sign_up("bench")
    await user.close()
    await asyncio.to_thread(live.create_five_seat_panel, app_env(database, sim_url), "bench")
    return await api.api_benchmarks(base, "bench", sim, quick, warm=True)


async def burst_benchmarks(
    base: str, daphne: live.Daphne, sim: Any, quick: bool, database: Path, sim_url: str, batches: bool
) -> dict[str, Any]:
    """Benchmark 4, one arrival: what it costs (POST, first page, socket); with `batches` (--only
    burst, without live, whose row 4 has them) then N runs of the five-seat panel sent in the same
    instant on this Daphne, N from BENCH_BURST_SIZES (default 20; e.g. 20,30,40 to find the edge)."""
    user = live.User(base)
    await user.sign_up("bench-burst")
    await asyncio.to_thread(live.create_five_seat_panel, app_env(database, sim_url), "bench-burst")
    five = user.panel_id(await user.home(), "Five")
    costs = await burst.arrival_costs(base, daphne, sim, user, five, 5 if quick else 30)
    live.configure_five(sim, tokens=60 if quick else 250)
    sizes = [2] if quick else [int(x) for x in os.environ.get("BENCH_BURST_SIZES", "20").split(",")]
    figures = await capacity(user, five, sim, sizes, [daphne.pid]) if batches else []
    await user.close()
    return {"costs": costs, "batches": figures}


async def passthrough_alone(
    base: str, sim: Any, sim_url: str, daphne: live.Daphne, quick: bool
) -> dict[str, Any]:
    """Benchmark 11's pass-through rows without the others (--only passthrough): the account first."""
    user = live.User(base)
    await user.sign_up("bench")
    await user.close()
    return await passthrough.passthrough_benchmarks(base, "bench", sim, sim_url, daphne, quick)


def run_module(module: str, database: Path, quick: bool) -> dict[str, Any]:
    """Run a benchmark module in a process of its own (it starts its own simulator) and return
    the JSON line it prints last."""
    env = app_env(database, "http://127.0.0.1:9/v1")  # replaced inside by its own simulator
    out = subprocess.run(
        [sys.executable, "-m", module, *(["--quick"] if quick else [])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smallest sizes: a smoke test, not figures")
    parser.add_argument(
        "--only",
        default="live,burst,inproc,bounds,hostile_render,grading",
        help="also: cpu, api, passthrough, quorum, stop, capacity, screen (alone; live has them)",
    )
    parser.add_argument("--sizes", default="", help="with --only capacity: the batch sizes, e.g. 30,40")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/README.md")
    args = parser.parse_args()
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="fusionroom-bench-"))
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "command": "make bench" + (" BENCH_ARGS=--quick" if args.quick else ""),
    }
    only = set(args.only.split(","))
    if only & {"live", "cpu", "api", "passthrough", "quorum", "stop", "capacity", "burst", "screen"}:
        with SimulatorProcess() as sim:
            database = scratch / "live.sqlite3"
            migrate(database, sim.base_url)
            os.environ.update(app_env(database, sim.base_url))
            import django

            django.setup()
            daphne = live.Daphne(database, sim.base_url, scratch / "daphne.log")
            try:
                if "live" in only:
                    timelines = asyncio.run(
                        live_benchmarks(daphne.url, sim, daphne, args.quick, database, sim.base_url, results)
                    )
                    results["fidelity"] = fidelity(timelines)
                if "cpu" in only and "live" not in only:
                    timelines = asyncio.run(
                        cpu.cpu_alone(daphne.url, sim, daphne, sim.base_url, args.quick, results)
                    )
                    single_figures(timelines, results)
                    results["fidelity"] = fidelity(timelines)
                if "api" in only and "live" not in only:
                    results["api"] = asyncio.run(
                        api_alone(daphne.url, sim, args.quick, database, sim.base_url)
                    )
                if "screen" in only and "live" not in only:
                    results["on_screen"] = asyncio.run(screen_alone(daphne.url, sim, args.quick))
                if "passthrough" in only and "live" not in only:
                    results["passthrough"] = asyncio.run(
                        passthrough_alone(daphne.url, sim, sim.base_url, daphne, args.quick)
                    )
                if "quorum" in only and "live" not in only:
                    results["quorum"] = asyncio.run(quorum_alone(daphne.url, sim, args.quick))
                if "capacity" in only and "live" not in only:
                    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else []
                    results.update(
                        asyncio.run(
                            capacity_alone(daphne.url, daphne, sim, args.quick, database, sim.base_url, sizes)
                        )
                    )
                if "stop" in only and "live" not in only:
                    results["stop"] = asyncio.run(stop.stop_benchmarks(daphne.url, sim, args.quick))
                if "burst" in only:
                    results["burst"] = asyncio.run(
                        burst_benchmarks(
                            daphne.url, daphne, sim, args.quick, database, sim.base_url, "live" not in only
                        )
                    )
            finally:
                daphne.stop()
        print(f"live benchmarks done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    if "inproc" in only:
        database = scratch / "inproc.sqlite3"
        migrate(database, "http://127.0.0.1:9/v1")
        results["inproc"] = run_module("bench.inproc", database, args.quick)
    if "bounds" in only:
        database = scratch / "bounds.sqlite3"
        migrate(database, "http://127.0.0.1:9/v1")
        results["bounds"] = run_module("bench.bounds", database, args.quick)
    if "grading" in only:
        database = scratch / "grading.sqlite3"
        migrate(database, "http://127.0.0.1:9/v1")
        results["grading"] = run_module("bench.grading", database, args.quick)
    if "hostile_render" in only:
        results["hostile_render"] = asyncio.run(
            hostile_render.measure(scratch / "hostile.sqlite3", scratch, args.quick)
        )
    results["elapsed_s"] = time.monotonic() - started
    (ROOT / "var").mkdir(exist_ok=True)
    name = "bench-quick.json" if args.quick else "bench-full.json"
    (ROOT / "var" / name).write_text(json.dumps(results, indent=2, default=str))
    text = report.render(results)
    print(text)
    if not args.quick and not args.no_write:
        report.write_readme(text)
    print(f"total {results['elapsed_s']:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
