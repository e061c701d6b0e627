"""A simulator in its own process (no GIL shared with what is measured): prints its URL.

python -m bench.simproc '{"model/id": {"tokens_per_second": 50}}'  -- runs until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from chat.simulator.simulator import Simulator


async def main() -> None:
    changes = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    simulator = Simulator(time_scale=1.0)
    for model, values in changes.items():
        simulator.configure(model, **values)
    await simulator.start()
    print(simulator.base_url, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await simulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
