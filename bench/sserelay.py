"""A bare SSE relay for comparison: POST /v1/chat/completions → the simulator's, bytes back as they come.

python -m bench.sserelay SIMULATOR_URL  -- prints its port. No auth, no parsing, no ledger: what a
gateway costs at the least (aiohttp in, aiohttp out), to weigh the API's pass-through against.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import ClientSession, web


async def relay(request: web.Request) -> web.StreamResponse:
    session: ClientSession = request.app["session"]
    body = await request.read()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    async with session.post(request.app["upstream"] + "/chat/completions", data=body, headers=headers) as up:
        response = web.StreamResponse(
            status=up.status, headers={"Content-Type": up.headers.get("Content-Type", "text/event-stream")}
        )
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    return response


async def on_startup(app: web.Application) -> None:
    app["session"] = ClientSession()


async def on_cleanup(app: web.Application) -> None:
    await app["session"].close()


async def serve(upstream: str) -> None:
    app = web.Application()
    app["upstream"] = upstream.rstrip("/")
    app.router.add_post("/v1/chat/completions", relay)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    # Serves until the benchmark closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
