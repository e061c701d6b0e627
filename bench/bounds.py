"""Benchmark 9: the run process's peak RSS while every seat answers 500 with a 200 MB body.

Runs of the five-seat panel executed in this process (as Daphne executes them), against the
simulator in its own process, whose seats all answer HTTP 500 with a body generated as it is
sent. A reader that keeps whole error bodies grows by the bodies (issue 16: 160 MB → 3 GB);
a bounded one by at most its caps. RSS is sampled every 5 ms from /proc by a thread.

Prints one JSON line of results last.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

from bench.common import FIVE, JUDGE
from bench.inproc import _rss_bytes, new_run, run_to_end, setup
from bench.simproc import SimulatorProcess

TARGET_GROWTH_BYTES = 50 * 1000 * 1000


class PeakRSS:
    """The highest RSS this process reaches while the block runs."""

    def __init__(self) -> None:
        self.peak = self.start = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


async def flooded_runs(user: Any, panel: Any, count: int) -> None:
    from asgiref.sync import sync_to_async

    for _ in range(count):
        await run_to_end(await sync_to_async(new_run)(user, panel))


def main() -> None:
    quick = "--quick" in sys.argv
    body_bytes = (20 if quick else 200) * 1024 * 1024
    runs = 1 if quick else 3
    flood = {m: {"fault": "huge_error", "fault_body_bytes": body_bytes} for m in [*FIVE, JUDGE]}
    with SimulatorProcess(flood) as sim:
        os.environ["FUSIONROOM_SIMULATOR_URL"] = sim.base_url
        user, _budget, five = setup()
        from django.conf import settings

        settings.FUSIONROOM_RETRY_ATTEMPTS = 1  # one 500 a seat: the flood, not the back-off, is measured
        asyncio.run(flooded_runs(user, five, 1))  # warm: imports, the first connections
        started = time.monotonic()
        with PeakRSS() as rss:
            asyncio.run(flooded_runs(user, five, runs))
        seconds = time.monotonic() - started
        flooded = [r for r in sim.requests_after(started) if r.status == 500]
    results = {
        "runs": runs,
        "seats": len(FIVE),
        "requests": len(flooded),
        "body_bytes": body_bytes,
        "offered_bytes": body_bytes * len(flooded),
        "sent_bytes": sum(r.bytes_sent for r in flooded),
        "rss_start": rss.start,
        "rss_peak": rss.peak,
        "growth_bytes": rss.peak - rss.start,
        "target_growth_bytes": TARGET_GROWTH_BYTES,
        "seconds": seconds,
    }
    import json

    print(json.dumps(results))


if __name__ == "__main__":
    main()
