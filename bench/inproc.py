"""In-process benchmarks (5, 6, the event-loop lag probe of 4, and 8): runs executed by
chat.runs.dispatch in this process's event loop, exactly as Daphne's loop executes them, with the
simulator in a separate process so that it shares no GIL with what is measured.

Prints one JSON line of results last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import os
import statistics
import sys
import threading
import time
import tracemalloc
import weakref
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import BUDGET, FIVE, JUDGE, PROMPT
from bench.simproc import SimulatorProcess

# Seats slow and long enough to be mid-stream for the whole of benchmark 6's memory reading.
SLOW = {"ttft_s": 0.1, "tokens_per_second": 20, "answer_tokens": 200}


def setup() -> Any:
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # DEBUG keeps every query (up to 9,000): not what production holds
    from django.contrib.auth.models import User

    from chat.models import Panel

    user = User.objects.create_user("inproc", password="x-very-long-password-1")
    budget = Panel.objects.get(slug="budget", is_preset=True)
    five = Panel.objects.create(owner=user, name="Five", seats=FIVE, judge=JUDGE)
    return user, budget, five


def new_run(user: Any, panel: Any) -> int:
    from chat.models import Conversation
    from chat.runs import creation

    conversation = Conversation.objects.create(owner=user)
    return int(creation.create_turn_and_run(conversation, PROMPT, panel, simulated=True).pk)


async def run_to_end(run_id: int) -> None:
    from chat.runs import dispatch

    dispatch.dispatch(run_id)
    await asyncio.sleep(0)
    await dispatch.wait_for_run(run_id)


# -- 5: writes per token, and which threads query ----------------------------------------------


async def writes_per_token(user: Any, panel: Any, count: int) -> dict[str, Any]:
    from asgiref.sync import sync_to_async
    from django.db import connection
    from django.db.backends import utils

    from chat.models import Run

    writes = {"n": 0}

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes["n"] += 1
        return execute(sql, params, many, context)

    threads: dict[int, int] = {}
    original_execute, original_many = utils.CursorWrapper.execute, utils.CursorWrapper.executemany

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        ident = threading.get_ident()
        threads[ident] = threads.get(ident, 0) + 1
        return original_execute(self, *args, **kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        ident = threading.get_ident()
        threads[ident] = threads.get(ident, 0) + 1
        return original_many(self, *args, **kwargs)

    loop_thread = threading.get_ident()
    ids = [await sync_to_async(new_run)(user, panel) for _ in range(count)]
    await sync_to_async(lambda: connection.execute_wrappers.append(counter))()
    utils.CursorWrapper.execute, utils.CursorWrapper.executemany = execute, executemany  # type: ignore[method-assign]
    try:
        for run_id in ids:
            await run_to_end(run_id)
    finally:
        utils.CursorWrapper.execute, utils.CursorWrapper.executemany = original_execute, original_many  # type: ignore[method-assign]
        await sync_to_async(lambda: connection.execute_wrappers.remove(counter))()
    rows = [r async for r in Run.objects.filter(pk__in=ids)]
    tokens = sum(r.completion_tokens for r in rows)
    seconds = sum((r.finished_at - r.started_at).total_seconds() for r in rows)
    return {
        "runs": count,
        "writes": writes["n"],
        "tokens": tokens,
        "run_seconds": seconds,
        "writes_per_token": writes["n"] / tokens,
        "statuses": sorted({r.status for r in rows}),
        "queries_on_loop_thread": threads.get(loop_thread, 0),
        "query_threads": len(threads),
        "queries": sum(threads.values()),
    }


# -- 6: memory per active run, and growth over sequential runs ----------------------------------


async def memory_per_run(user: Any, panel: Any, k: int, sim: SimulatorProcess) -> dict[str, Any]:
    from asgiref.sync import sync_to_async

    from chat.models import SeatAnswer
    from chat.runs import dispatch

    ids = [await sync_to_async(new_run)(user, panel) for _ in range(k)]
    # Warm every import and cache with a quick run: at the slow pace below the warm-up would
    # take the panel's whole answer (150 s for 3,000 tokens), which round 1 took for a Stop
    # that waited for the answers (issue 22, point 8): the Stop itself took 20-100 ms.
    for model in FIVE:
        sim.configure(model, tokens_per_second=1e6, ttft_s=0)
    await run_to_end(await sync_to_async(new_run)(user, panel))
    for model in FIVE:
        sim.configure(model, **SLOW)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for run_id in ids:
        dispatch.dispatch(run_id)
    await asyncio.sleep(4.0)  # mid-stream: the seats are slow and long (see the simulator config)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for run_id in ids:
        await dispatch.request_stop(run_id)
    # Stop is asked, but the runs are not awaited past 15 s (see README: Stop in-process).
    stopped_at = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            for run_id in ids:
                await dispatch.wait_for_run(run_id)
    stop_seconds = time.monotonic() - stopped_at
    texts = [a.text async for a in SeatAnswer.objects.filter(run_id__in=ids)]
    text_bytes = sum(len(t.encode()) for t in texts) / k
    per_run = (held - base) / k
    return {
        "k": k,
        "per_run_bytes": per_run,
        "text_bytes_per_run": text_bytes,
        "target_bytes": 1_000_000 + 2 * text_bytes,
        "seconds_for_stop": stop_seconds,
    }


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _settle() -> None:
    gc.collect()
    # CPython's type attribute cache (4,096 entries) keeps the attribute names looked up through
    # it, and Django looks some up with fresh strings ("as_" + vendor): bounded, but it fills
    # over thousands of runs and would read as a slow growth of the heap.
    if sys.version_info >= (3, 13):
        sys._clear_internal_caches()
    else:
        sys._clear_type_cache()


def _dead_weakrefs() -> int:
    # sqlite3 keeps a weak reference to every cursor of a connection and drops the dead ones only
    # every 200th cursor: a saw-tooth of up to 200 objects (and blocks), not a growth.
    return sum(1 for o in gc.get_objects() if type(o) is weakref.ref and o() is None)


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    # Theil-Sen, the median of the slopes between every two readings: a reading taken while the
    # event loop still holds a pile of cancelled timers (it drops them when they are over half of
    # its heap) is an outlier, and would tilt a least-squares line.
    pairs = itertools.combinations(zip(xs, ys, strict=True), 2)
    return statistics.median((y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in pairs)


# Above these a leak is said to show: one small object kept every other run, or a kilobyte of
# memory outside Python's allocator (SQLite, the markdown sanitiser) every run.
GROWTH_LIMITS = {"blocks": 0.5, "objects": 0.5, "rss_bytes": 1000.0}


async def growth(user: Any, panel: Any, count: int, every: int) -> dict[str, Any]:
    """Sequential runs against an instant simulator, with three readings after every
    `every`-th: the heap's blocks, the objects the collector tracks, and the RSS. No growth
    means that their slopes per run, fitted over the second half, stay under GROWTH_LIMITS.
    """
    from asgiref.sync import sync_to_async

    size = count // every
    # Preallocated: readings kept as Python objects would grow the heap they measure.
    after, blocks, objects, rss = (array("q", bytes(8 * size)) for _ in range(4))
    started = time.monotonic()
    for i in range(1, count + 1):
        await run_to_end(await sync_to_async(new_run)(user, panel))
        if i % every == 0:
            k = i // every - 1
            _settle()
            held, dead = sys.getallocatedblocks(), _dead_weakrefs()
            after[k], blocks[k], objects[k] = i, held - dead, len(gc.get_objects()) - dead
            rss[k] = _rss_bytes()
    seconds = time.monotonic() - started
    fitted = slice(size // 2 - 1, size)  # from run count/2 on: past the warm-up of every cache
    x = after[fitted]
    slopes = {
        "blocks": _slope(x, blocks[fitted]),
        "objects": _slope(x, objects[fitted]),
        "rss_bytes": _slope(x, rss[fitted]),
    }
    return {
        "runs": count,
        "seconds": seconds,
        "fitted_from": x[0],
        "slopes": slopes,
        "limits": GROWTH_LIMITS,
        "grew": [name for name, limit in GROWTH_LIMITS.items() if slopes[name] >= limit],
        "samples": [
            {"after": a, "blocks": b, "objects": o, "rss": r}
            for a, b, o, r in zip(after, blocks, objects, rss, strict=True)
        ],
    }


# -- 8: rendering stays linear -----------------------------------------------------------------


def rendering(tokens_small: int, tokens_large: int) -> dict[str, Any]:
    from chat.rendering import StreamingMarkdown

    paragraph = (
        "Plan the migration in **small steps**: take a backup, run the schema change on a copy, "
        "measure, then `ALTER` the live table.\n\n- one item\n- another item with a [link](https://example.com)\n\n"
        "```python\nprint('hello')\n```\n\n"
    )
    words = paragraph.replace("\n", "\n ").split(" ")

    def cost(n: int, repeat: int) -> float:
        best = float("inf")
        for _ in range(repeat):
            tokens = [(words[i % len(words)] + " ") for i in range(n)]
            markdown = StreamingMarkdown()
            pending: list[str] = []
            start = time.process_time()
            for i, token in enumerate(tokens, 1):
                pending.append(token)
                if i % 8 == 0:  # one frame per ~8 tokens, as the 40 ms frame clock makes at 200 tokens/s
                    markdown.feed("".join(pending))
                    pending = []
            markdown.feed("".join(pending))
            markdown.tail_html()
            best = min(best, (time.process_time() - start) / n)
        return best

    small = cost(tokens_small, 20)
    large = cost(tokens_large, 3)
    return {
        "small_tokens": tokens_small,
        "large_tokens": tokens_large,
        "small_us_per_token": small * 1e6,
        "large_us_per_token": large * 1e6,
        "ratio": large / small,
    }


def _lap(label: str, since: list[float]) -> None:
    now = time.monotonic()
    print(f"inproc {label}: {now - since[0]:.1f} s", file=sys.stderr)
    since[0] = now


def main() -> None:
    since = [time.monotonic()]
    quick = "--quick" in sys.argv
    results: dict[str, Any] = {}
    results["rendering"] = rendering(200, 1000 if quick else 5000)
    fast = {m: {"ttft_s": 0.05, "tokens_per_second": 2000, "answer_tokens": 60} for m in [*BUDGET, *FIVE]}
    # No waiting at all: the growth check is about what a run leaves behind, not its pace.
    instant = {m: {"ttft_s": 0, "tokens_per_second": 1e6, "answer_tokens": 60} for m in BUDGET}
    # The judge (and writer) only answer the warm-up run: at once.
    slow = {**dict.fromkeys(FIVE, SLOW), JUDGE: {"ttft_s": 0, "tokens_per_second": 1e6}}
    five_50 = {
        m: {"ttft_s": 0.5, "tokens_per_second": 50, "answer_tokens": 60 if quick else 250} for m in FIVE
    }
    five_50[JUDGE] = {"ttft_s": 0.4, "tokens_per_second": 120, "answer_tokens": 300}
    # One simulator per configuration; each in its own process.
    with SimulatorProcess(fast) as sim:
        os.environ["FUSIONROOM_SIMULATOR_URL"] = sim.base_url
        user, budget, five = setup()
        results["writes"] = asyncio.run(writes_per_token(user, budget, 1 if quick else 3))
        _lap("writes", since)
    # Later simulators: the app reads the URL from settings on each run.
    from django.conf import settings

    with SimulatorProcess(instant) as sim:
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        sizes = (10, 2) if quick else (400, 20)  # runs, and a reading after every so many
        results["growth"] = asyncio.run(growth(user, budget, *sizes))
        _lap("growth", since)
    with SimulatorProcess(slow) as sim:
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        results["memory"] = asyncio.run(memory_per_run(user, five, 2 if quick else 10, sim))
        _lap("memory", since)
    with SimulatorProcess(five_50) as sim:
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        # The loop's lag under load is read inside Daphne now (bench/probed.py, benchmark 4's rows),
        # under the load of real clients: the in-process probe that stood for it is gone.
        # Writes per token at real pace (the save clock ticks every second while tokens flow).
        if not quick:
            results["writes_paced"] = asyncio.run(writes_per_token(user, budget, 1))
        _lap("writes_paced", since)
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
