"""A simulator in its own process (no GIL shared with what is measured).

python -m bench.simproc '{"model/id": {"tokens_per_second": 50}}'  -- prints its URL, then answers
one JSON command per stdin line (configure, hold, release, requests) until stdin closes.
`SimulatorProcess` starts it and steers it like a SimulatorThread. Its request times are
time.monotonic(), which is one clock for every process of the machine (CLOCK_MONOTONIC), so they
line up with the client's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

from bench.common import ROOT
from chat.simulator import SimulatorThread

_RECORD_FIELDS = (
    "model",
    "body",
    "received_at",
    "first_token_at",
    "finished_at",
    "completion_tokens",
    "status",
    "bytes_sent",
)


def _answer(sim: SimulatorThread, command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "configure":
        sim.configure(command["model"], **command["changes"])
        return None
    if op == "hold":
        sim.hold(command["model"])
        return None
    if op == "release":
        sim.release()
        return None
    if op == "requests":
        after = command.get("after", 0.0)
        records = [r for r in sim.requests if r.received_at >= after]
        return [{name: getattr(r, name) for name in _RECORD_FIELDS} for r in records]
    raise ValueError(f"unknown command {op!r}")


def main() -> None:
    changes = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    with SimulatorThread(time_scale=1.0) as sim:
        for model, values in changes.items():
            sim.configure(model, **values)
        print(sim.base_url, flush=True)
        for line in sys.stdin:
            print(json.dumps(_answer(sim, json.loads(line))), flush=True)


class SimulatorProcess:
    """The client's side: the same steering as a SimulatorThread, over the child's stdin/stdout.
    Each call is a blocking round trip of a millisecond or so, made between runs."""

    def __init__(self, changes: dict[str, dict[str, Any]] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.simproc", json.dumps(changes or {})],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError("the simulator process did not start")

    def _ask(self, **command: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def configure(self, model: str, **changes: Any) -> None:
        self._ask(op="configure", model=model, changes=changes)

    def hold(self, model: str) -> None:
        self._ask(op="hold", model=model)

    def release(self) -> None:
        self._ask(op="release")

    def requests_after(self, after: float) -> list[SimpleNamespace]:
        return [SimpleNamespace(**record) for record in self._ask(op="requests", after=after)]

    @property
    def requests(self) -> list[SimpleNamespace]:
        return self.requests_after(0.0)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    main()
