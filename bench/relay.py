"""A bare relay for comparison: simulator stream -> websocket, nothing else (no DB, no HTML).

python -m bench.relay SIMULATOR_URL  -- prints its port; GET /ws?model=ID streams that model's answer,
one websocket text frame per upstream delta, then closes.
"""

from __future__ import annotations

import json
import sys

from aiohttp import ClientSession, web


async def relay(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    body = {
        "model": request.query["model"],
        "messages": [{"role": "user", "content": request.query.get("prompt", "Hello")}],
        "stream": True,
    }
    session: ClientSession = request.app["session"]
    async with session.post(request.app["upstream"] + "/chat/completions", json=body) as response:
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            for choice in json.loads(data).get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    await ws.send_str(text)
    await ws.send_str("[DONE]")
    await ws.close()
    return ws


async def on_startup(app: web.Application) -> None:
    app["session"] = ClientSession()


async def on_cleanup(app: web.Application) -> None:
    await app["session"].close()


def main() -> None:
    app = web.Application()
    app["upstream"] = sys.argv[1].rstrip("/")
    app.router.add_get("/ws", relay)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)

    async def start() -> web.AppRunner:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        return runner

    import asyncio

    async def serve() -> None:
        runner = await start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
