"""Run the simulator standalone: ``python -m chat.simulator --port 8765``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from chat.simulator.simulator import Simulator


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chat.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies simulated delays; 0 answers at once"
    )
    parser.add_argument("--api-key", default=None, help="require this bearer token (default: accept any)")
    return parser.parse_args()


async def _serve(arguments: argparse.Namespace) -> None:
    simulator = Simulator(
        host=arguments.host, port=arguments.port, time_scale=arguments.time_scale, api_key=arguments.api_key
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    async with simulator:
        print(
            f"FusionRoom simulator serving {len(simulator.models)} models at {simulator.base_url}", flush=True
        )
        await stopping.wait()


def main() -> None:
    asyncio.run(_serve(_arguments()))


if __name__ == "__main__":
    main()
