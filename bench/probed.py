"""Daphne with an event-loop lag probe inside: `python -m bench.probed LAG_FILE DAPHNE_ARGS...`.

Loop lag cannot be seen from outside, and the in-process figure (bench/inproc.py) is not the
server people run. This starts Daphne as `python -m daphne` would, plus one task on its loop that
sleeps 10 ms and keeps how late it woke. SIGUSR1 writes the samples kept since the last signal to
LAG_FILE (one JSON list of milliseconds, written whole then renamed, so a reader never sees half)
and starts afresh: the benchmark signals before a batch (to reset) and after it (to read).
Nothing of the app changes: the probe lives in the benchmark's own launcher.
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

INTERVAL_S = 0.010


def install(lag_file: Path) -> None:
    # Daphne's server module installs Twisted's asyncio reactor on the loop it then runs.
    from daphne.cli import CommandLineInterface  # noqa: F401 (imports daphne.server)
    from twisted.internet import reactor

    samples = array.array("d")
    # SIGUSR2 pauses and resumes the probe: its hundred wake-ups a second are not the server's
    # CPU, which benchmark 7 measures (bench/cpu.py pauses it over its runs).
    running = asyncio.Event()
    running.set()

    def pause_or_resume() -> None:
        if running.is_set():
            running.clear()
        else:
            running.set()

    async def monitor() -> None:
        while True:
            await running.wait()
            before = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            samples.append(max(0.0, (time.perf_counter() - before - INTERVAL_S) * 1000))

    def dump() -> None:
        scratch = lag_file.with_suffix(".part")
        scratch.write_text(json.dumps(samples.tolist()))
        os.replace(scratch, lag_file)
        del samples[:]

    def start() -> None:
        loop = asyncio.get_event_loop()
        loop.add_signal_handler(signal.SIGUSR1, dump)
        loop.add_signal_handler(signal.SIGUSR2, pause_or_resume)
        # Kept on the function: a task only weakly referenced by the loop may be collected.
        start.task = loop.create_task(monitor())  # type: ignore[attr-defined]

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]


def main() -> None:
    lag_file = Path(sys.argv[1])
    install(lag_file)
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *sys.argv[2:]]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
