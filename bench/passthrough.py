"""Benchmark 11, pass-through: a plain model over /v1/chat/completions, against the same request
sent straight to the simulator and through a bare SSE relay (bench/sserelay.py).

- time to first token: first content chunk's arrival − the moment the request was sent, direct and
  through, in pairs back to back (one clock, time.monotonic(), as the other rows);
- CPU per token: the server process's CPU over a batch of streams ÷ the tokens the simulator sent,
  FusionRoom's Daphne against the bare relay, the same batch through each;
- 100 streams at once: Daphne's loop lag (bench/probed.py), streams completed, first token added.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench import live
from bench.api import create_token
from bench.common import PROMPT, ROOT, median, pct

# A model no other benchmark streams before this one (12 configures it afresh for itself).
MODEL = "anthropic/claude-opus-4.8"
_NONCE = 0


@dataclass
class Stream:
    nonce: str
    sent: float
    first_content: float | None = None
    done: float | None = None
    record: Any = None  # the simulator's record of the request

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_content is None else (self.first_content - self.sent) * 1000

    @property
    def model_ttft_ms(self) -> float | None:
        """The simulator's own time to first token (received → first token written)."""
        if self.record is None or self.record.first_token_at is None:
            return None
        return (self.record.first_token_at - self.record.received_at) * 1000

    @property
    def beyond_model_ms(self) -> float | None:
        """Time to first token less the model's own: what the hops there and back cost."""
        ttft, model = self.ttft_ms, self.model_ttft_ms
        return None if ttft is None or model is None else ttft - model


async def stream_once(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Stream:
    """One streamed completion of MODEL; parses chunks only until the first content (the client's
    CPU is not what is measured, but it shares the machine)."""
    global _NONCE
    _NONCE += 1
    nonce = f"(bench pass-through {_NONCE})"
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"{PROMPT} {nonce}"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    stream = Stream(nonce, time.monotonic())
    async with session.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {(await response.text())[:200]}")
        async for line in response.content:
            if not line.startswith(b"data: "):
                continue
            if line.startswith(b"data: [DONE]"):
                stream.done = time.monotonic()
                break
            if stream.first_content is None:
                now = time.monotonic()
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise RuntimeError(f"the stream failed: {chunk['error']}")
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    stream.first_content = now
    return stream


def attach_records(streams: list[Stream], sim: Any, after: float) -> int:
    """Give each stream its simulator record (by nonce); returns the tokens those records sent."""
    records = {}
    for record in sim.requests_after(after):
        if record.model == MODEL:
            said = json.dumps(record.body)
            for stream in streams:
                if stream.nonce in said:
                    records[stream.nonce] = record
    for stream in streams:
        stream.record = records.get(stream.nonce)
    return sum(stream.record.completion_tokens for stream in streams if stream.record is not None)


def start_relay(simulator_url: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sserelay", simulator_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, f"http://127.0.0.1:{int(process.stdout.readline())}/v1/chat/completions"


async def batch(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int, sim: Any, pid: int
) -> dict[str, Any]:
    """N streams at once through `url`; the CPU of process `pid` over them ÷ the tokens sent."""
    cpu0, t0 = live.cpu_of(pid), time.monotonic()
    results = await asyncio.gather(
        *(stream_once(session, url, headers) for _ in range(n)), return_exceptions=True
    )
    elapsed, cpu = time.monotonic() - t0, live.cpu_of(pid) - cpu0
    streams = [s for s in results if isinstance(s, Stream) and s.done is not None]
    tokens = attach_records(streams, sim, t0)
    return {
        "n": n,
        "completed": len(streams),
        "errors": [repr(e)[:200] for e in results if not isinstance(e, Stream)],
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "tokens": tokens,
        "us_per_token": cpu / tokens * 1e6 if tokens else float("nan"),
        "streams": streams,
    }


async def passthrough_benchmarks(
    base: str, username: str, sim: Any, sim_url: str, daphne: live.Daphne, quick: bool
) -> dict[str, Any]:
    secret = await asyncio.to_thread(create_token, username)
    ours = {"Authorization": f"Bearer {secret}"}
    through, direct = f"{base}/v1/chat/completions", sim_url.rstrip("/") + "/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        # Time to first token, sequential pairs: a short answer, the model's first token after 0.1 s.
        sim.configure(MODEL, ttft_s=0.1, tokens_per_second=200, answer_tokens=10)
        await stream_once(session, direct, {})
        await stream_once(session, through, ours)  # the catalog, the connections
        pairs = 3 if quick else 20
        t0 = time.monotonic()
        mine, theirs = [], []
        for _ in range(pairs):
            theirs.append(await stream_once(session, direct, {}))
            mine.append(await stream_once(session, through, ours))
        attach_records(mine + theirs, sim, t0)

        # CPU per token: the same batch through Daphne, then through the bare relay.
        n, tokens = (4, 60) if quick else (20, 300)
        sim.configure(MODEL, ttft_s=0.2, tokens_per_second=100, answer_tokens=tokens)
        app = await batch(session, through, ours, n, sim, daphne.pid)
        relay, relay_url = start_relay(sim_url)
        try:
            await stream_once(session, relay_url, {})  # its connections
            bare = await batch(session, relay_url, {}, n, sim, relay.pid)
        finally:
            assert relay.stdin is not None
            relay.stdin.close()
            relay.wait(timeout=10)

        # 100 streams held at once (5 in quick), with the loop-lag probe read around them.
        many = 5 if quick else 100
        sim.configure(MODEL, ttft_s=0.5, tokens_per_second=50, answer_tokens=40 if quick else 150)
        await daphne.lag_ms()
        held = await batch(session, through, ours, many, sim, daphne.pid)
        lag = await daphne.lag_ms()

    def ttfts(streams: list[Stream]) -> list[float]:
        return [ms for s in streams if (ms := s.ttft_ms) is not None]

    def beyond(streams: list[Stream]) -> list[float]:
        return [ms for s in streams if (ms := s.beyond_model_ms) is not None]

    def asked_ms(streams: list[Stream]) -> list[float]:
        return [(s.record.received_at - s.sent) * 1000 for s in streams if s.record is not None]

    def relayed_ms(streams: list[Stream]) -> list[float]:
        return [
            (s.first_content - s.record.first_token_at) * 1000
            for s in streams
            if s.record is not None and s.first_content is not None and s.record.first_token_at is not None
        ]

    direct_beyond = median(beyond(theirs))
    held_added = [ms - direct_beyond for ms in beyond(held["streams"])]
    for figures in (app, bare, held):
        del figures["streams"]
    return {
        "ttft": {
            "pairs": pairs,
            "direct_ms": ttfts(theirs),
            "through_ms": ttfts(mine),
            "added_ms_p50": median(ttfts(mine)) - median(ttfts(theirs)),
            # Where it goes: the request reaching the model, and its first token coming back.
            "asked_ms_p50": {"direct": median(asked_ms(theirs)), "through": median(asked_ms(mine))},
            "relayed_ms_p50": {"direct": median(relayed_ms(theirs)), "through": median(relayed_ms(mine))},
        },
        "cpu": {"app": app, "relay": bare, "ratio": app["us_per_token"] / bare["us_per_token"]},
        "held": {
            **held,
            "lag_ms_p50": pct(lag, 50),
            "lag_ms_p99": pct(lag, 99),
            "lag_ms_max": max(lag, default=float("nan")),
            "lag_samples": len(lag),
            # First token beyond the model's own, less what a direct call's costs (its p50).
            "added_ms_p50": median(held_added),
            "added_ms_p95": pct(held_added, 95),
            "cpu_pct": held["cpu_s"] / held["elapsed_s"] * 100,
        },
    }
