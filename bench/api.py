"""Benchmark 11: the API (/v1/chat/completions, streamed), measured like the chatroom's runs.

Overhead = ([DONE] arrival − the moment the POST was sent) ÷ the critical path the simulator saw
(bench/live.py's Timeline); first content = the first chunk carrying content − the writer's first
token at the simulator.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench import live
from bench.common import BUDGET, FIVE, PROMPT, median, pct

_NONCE = 0


@dataclass
class ApiRun:
    timeline: live.Timeline
    first_content: float | None

    @property
    def first_content_ms(self) -> float | None:
        """From the writer's first token (at the simulator) to the client's first content chunk."""
        if self.first_content is None or len(self.timeline.records) < self.timeline.seats + 2:
            return None
        writer = self.timeline.records[self.timeline.seats + 1]
        return None if writer.first_token_at is None else (self.first_content - writer.first_token_at) * 1000

    @property
    def complete(self) -> bool:
        return len(self.timeline.records) >= self.timeline.seats + 2


def create_token(username: str) -> str:
    """An API token of the benchmark's account, through the ORM (django is set up by the caller)."""
    from django.contrib.auth.models import User

    from chat.models import ApiToken

    return ApiToken.objects.issue(User.objects.get(username=username), "bench")[1]


async def stream_once(http: httpx.AsyncClient, model: str, seats: list[str], sim: Any) -> ApiRun:
    """One streamed completion: when it was sent, when content first came, when [DONE] came."""
    global _NONCE
    _NONCE += 1
    nonce = f"(bench API question {_NONCE})"
    body = {
        "model": model,
        "messages": [{"role": "user", "content": f"{PROMPT} {nonce}"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    first_content: float | None = None
    run_id = 0
    t_post = time.monotonic()
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        t_sent = time.monotonic()
        response.raise_for_status()
        timeline = live.Timeline(0, t_post, t_sent, seat_models=seats)
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            now = time.monotonic()
            if line == "data: [DONE]":
                timeline.frames.append((now, line))
                break
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"the run failed: {chunk['error']}")
            content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if content and first_content is None:
                first_content = now
            if "fusion" in chunk:
                run_id = chunk["fusion"]["run_id"]
    timeline.run_id = run_id
    records = [
        r for r in sim.requests_after(t_post) if r.finished_at is not None and nonce in json.dumps(r.body)
    ]
    timeline.order(records)
    return ApiRun(timeline, first_content)


# `make bench` must stay under ten minutes, and 1-4 already take most of them: three single
# streams, not ten, each like benchmark 1's runs.
SINGLE_RUNS = 2


async def api_benchmarks(
    base: str, username: str, sim: Any, quick: bool, *, warm: bool = False
) -> dict[str, Any]:
    """Single streamed runs of fusion/budget (Budget at 120 tokens/s, as benchmark 1), then N at
    once of the five-seat panel (as benchmark 4). Expects the account's five-seat panel "Five".
    `warm`: one call first, for a server that has run nothing yet (benchmark 11 alone)."""
    secret = await asyncio.to_thread(create_token, username)
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as http:
        live.configure_budget(sim, tokens=80 if quick else 300)
        if warm:
            await stream_once(http, "fusion/budget", BUDGET, sim)  # the catalog, the connection
        singles = [
            await stream_once(http, "fusion/budget", BUDGET, sim) for _ in range(1 if quick else SINGLE_RUNS)
        ]
        live.configure_five(sim, tokens=60 if quick else 250)
        n = 2 if quick else 20
        started = time.monotonic()
        batch = await asyncio.gather(
            *(stream_once(http, "fusion/panel/five", FIVE, sim) for _ in range(n)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
    ok = [run for run in batch if isinstance(run, ApiRun) and run.complete]
    errors = [repr(run)[:200] for run in batch if not isinstance(run, ApiRun)]
    ratios = [run.timeline.wall / run.timeline.critical for run in ok]
    return {
        "single": {
            "runs": len(singles),
            "ratios": [run.timeline.wall / run.timeline.critical for run in singles],
            "diffs_ms": [(run.timeline.wall - run.timeline.critical) * 1000 for run in singles],
            "first_content_ms": [ms for run in singles if (ms := run.first_content_ms) is not None],
            "stages_ms": [run.timeline.stages_ms() for run in singles],
        },
        "concurrent": {
            "n": n,
            "completed": len(ok),
            "errors": errors,
            "elapsed_s": elapsed,
            "ratio_p50": median(ratios),
            "ratio_p95": pct(ratios, 95),
            "first_content_ms": [ms for run in ok if (ms := run.first_content_ms) is not None],
            "stages_ms": [run.timeline.stages_ms() for run in ok],
        },
    }
