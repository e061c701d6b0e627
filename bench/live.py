"""Benchmarks 1-4 and 7, measured from the outside: Daphne in a subprocess, a websocket client here.

The simulator runs in a process of its own (bench/simproc.py), so it shares no GIL with the
client; its request log and the client's arrival times share one clock, time.monotonic().
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.common import BUDGET, FIVE, JUDGE, PASSWORD, PROMPT, ROOT, app_env, proc_cpu_seconds

_NONCE = 0


class Daphne:
    def __init__(
        self,
        database: Path,
        simulator_url: str,
        log: Path,
        settings: dict[str, str] | None = None,
    ) -> None:
        """`settings`: environment variables set for the app beyond `app_env`'s. Started with the
        loop-lag probe (bench/probed.py): `lag_ms()` reads it."""
        self.lag_file = log.with_suffix(".lag.json")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.probed",
                str(self.lag_file),
                "-b",
                "127.0.0.1",
                "-p",
                "0",
                "fusionroom.asgi:application",
            ],
            cwd=ROOT,
            env={**app_env(database, simulator_url), **(settings or {})},
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        self.url = ""
        for line in self.process.stderr:
            if found := re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", line):
                self.url = f"http://127.0.0.1:{found.group(1)}"
                break
        if not self.url:
            raise RuntimeError(f"Daphne did not start (exit code {self.process.poll()})")
        self.drain = subprocess.Popen(["cat"], stdin=self.process.stderr, stdout=log.open("w"))

    @property
    def pid(self) -> int:
        return self.process.pid

    async def lag_ms(self) -> list[float]:
        """The loop's lag samples (ms) since the last call: the first call of a batch resets."""
        self.lag_file.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        async with asyncio.timeout(30):
            while not self.lag_file.exists():
                await asyncio.sleep(0.01)
        return list(json.loads(self.lag_file.read_text()))

    def pause_probe(self) -> None:
        """Pause the loop-lag probe, or resume it if paused (bench/probed.py)."""
        self.process.send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a thread still busy (a long render): do not wait for it
            self.process.kill()
            self.process.wait(timeout=10)
        self.drain.wait(timeout=10)


@dataclass
class Timeline:
    run_id: int
    t_post: float
    t_sent: float  # the POST's answer came: the run is created, and handed to its task
    frames: list[tuple[float, str]] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    seat_models: list[str] = field(default_factory=list)

    @property
    def seats(self) -> int:
        return len(self.seat_models)

    def order(self, records: list[Any]) -> None:
        """Seat i's request first (by model, in seat order), then the judge's and the writer's."""
        rest = sorted(records, key=lambda r: r.received_at)
        seats = []
        for model in self.seat_models:
            found = next(r for r in rest if r.model == model)
            rest.remove(found)
            seats.append(found)
        self.records = seats + rest

    @property
    def last_event(self) -> float:
        return self.frames[-1][0]

    @property
    def wall(self) -> float:
        return self.last_event - self.t_post

    @property
    def critical(self) -> float:
        seat = max(r.finished_at - r.received_at for r in self.records[: self.seats])
        return seat + sum(r.finished_at - r.received_at for r in self.records[self.seats : self.seats + 2])

    def stages_ms(self) -> dict[str, float]:
        """Where the time beyond the models' own goes: before the first seat is asked, between
        the last seat's end and the judge's request, between the judge and the writer, and from
        the writer's last token to the run's final snapshot on the socket."""
        seats = self.records[: self.seats]
        judge, writer = self.records[self.seats], self.records[self.seats + 1]
        return {
            "post": (self.t_sent - self.t_post) * 1000,
            "start": (min(r.received_at for r in seats) - self.t_post) * 1000,
            "seats_to_judge": (judge.received_at - max(r.finished_at for r in seats)) * 1000,
            "judge_to_writer": (writer.received_at - judge.finished_at) * 1000,
            "writer_to_end": (self.last_event - writer.finished_at) * 1000,
        }

    def seat_frames(self, seat: int) -> list[tuple[float, str]]:
        """Messages carrying new text or reasoning of the seat (its streamed tokens). One message
        carries every column's news of one frame tick, so it may count for several seats."""
        prefix = f'id="run-{self.run_id}-seat-{seat}'
        marks = (f'{prefix}-tail" hx-swap-oob="innerHTML"', f'{prefix}-reasoning" hx-swap-oob="beforeend"')
        return [(t, html) for t, html in self.frames if any(m in html for m in marks)]

    def text_frames(self, seat: int) -> list[tuple[float, str]]:
        marker = f'id="run-{self.run_id}-seat-{seat}-tail" hx-swap-oob="innerHTML"'
        return [(t, html) for t, html in self.frames if marker in html]


class User:
    """A signed-in browser session over HTTP: cookies, CSRF, HTMX headers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.username = ""
        self.http = httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=60)
        self.ws = aiohttp.ClientSession()

    async def sign_up(self, username: str) -> None:
        self.username = username
        page = await self.http.get("/accounts/signup/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-up form"
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password1": PASSWORD,
            "password2": PASSWORD,
        }
        response = await self.http.post(
            "/accounts/signup/", data=form, headers={"Referer": self.base + "/accounts/signup/"}
        )
        if "sessionid" not in self.http.cookies:
            # Signed up but not signed in (the app is being edited in parallel): sign in, as a person would.
            await self.sign_in(username)
        assert "sessionid" in self.http.cookies, f"sign-up failed: {response.status_code}"

    async def sign_in(self, username: str) -> None:
        page = await self.http.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-in form"
        form = {"csrfmiddlewaretoken": token.group(1), "username": username, "password": PASSWORD}
        response = await self.http.post(
            "/accounts/login/", data=form, headers={"Referer": self.base + "/accounts/login/"}
        )
        assert "sessionid" in self.http.cookies, f"sign-in failed: {response.status_code}"

    def panel_id(self, home_html: str, name: str) -> str:
        found = re.search(r'<option value="(\d+)"[^>]*>\s*' + re.escape(name), home_html)
        assert found, f"no panel {name!r} on the page"
        return found.group(1)

    async def home(self) -> str:
        return (await self.http.get("/")).text

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def run(self, panel: str, seats: list[str], sim: Any, prompt: str = PROMPT) -> Timeline:
        global _NONCE
        _NONCE += 1
        nonce = f"(bench question {_NONCE})"
        prompt = f"{prompt} {nonce}"
        """Send, load the page the HX-Redirect names, follow the run's websocket to its final snapshot."""
        headers = {
            "HX-Request": "true",
            "X-CSRFToken": self.http.cookies["csrftoken"],
            "Referer": self.base + "/",
        }
        t_post = time.monotonic()
        response = await self.http.post("/send/", data={"message": prompt, "panel": panel}, headers=headers)
        t_sent = time.monotonic()
        target = response.headers.get("HX-Redirect")
        assert target, f"no HX-Redirect from /send/ ({response.status_code}): {response.text[:300]}"
        page = (await self.http.get(target)).text
        found = re.search(r'ws-connect="/ws/runs/(\d+)/"', page)
        assert found, "the page has no live run"
        timeline = Timeline(int(found.group(1)), t_post, t_sent, seat_models=seats)
        ws_url = self.base.replace("http", "ws", 1) + f"/ws/runs/{timeline.run_id}/"
        async with self.ws.ws_connect(
            ws_url, headers={"Cookie": self.cookie_header, "Origin": self.base}
        ) as ws:
            finished = False
            while True:
                try:
                    message = await ws.receive(timeout=0.5 if finished else 120)
                except TimeoutError:
                    break  # quiet after the final snapshot: nothing else comes
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                timeline.frames.append((time.monotonic(), message.data))
                data = message.data.lstrip()
                if (
                    data.startswith('<section class="run ')
                    and "Run total" in data
                    and 'data-status="running"' not in data
                ):
                    finished = True  # the final snapshot
        # This run's requests: those received after the POST, in order (seats, judge, writer).
        records = [
            r for r in sim.requests_after(t_post) if r.finished_at is not None and nonce in json.dumps(r.body)
        ]
        timeline.order(records)
        return timeline

    async def close(self) -> None:
        await self.http.aclose()
        await self.ws.close()


def configure_budget(sim: Any, tps: float = 120, tokens: int = 300, ttft: float = 0.4) -> None:
    # 100+ tokens/s per seat (benchmark 3), a first token late enough for the socket to be open.
    for model in BUDGET:
        sim.configure(model, ttft_s=ttft, tokens_per_second=tps, answer_tokens=tokens)


def configure_five(sim: Any, tokens: int = 250) -> None:
    for model in FIVE:
        sim.configure(model, ttft_s=0.5, tokens_per_second=50, answer_tokens=tokens)
    sim.configure(JUDGE, ttft_s=0.4, tokens_per_second=120, answer_tokens=300)


def create_five_seat_panel(env: dict[str, str], username: str) -> None:
    """The user's five-seat panel, made through the ORM of the app configured by `env`."""
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth.models import User\n"
        "from chat.models import Panel\n"
        f"Panel.objects.create(owner=User.objects.get(username={username!r}), name='Five', "
        f"seats={FIVE!r}, judge={JUDGE!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def seat_ttft_overheads(t: Timeline) -> list[float]:
    out = []
    first_message = t.frames[0][0]
    for seat in range(t.seats):
        record = t.records[seat]
        frames = t.seat_frames(seat)
        # Only when the socket was open before the first token; else a snapshot carried it.
        if frames and record.first_token_at is not None and first_message < record.first_token_at:
            out.append(frames[0][0] - record.first_token_at)
    return out


def seat_gaps(t: Timeline) -> list[float]:
    gaps = []
    for seat in range(t.seats):
        times = [at for at, _ in t.seat_frames(seat)]
        gaps.extend(b - a for a, b in zip(times, times[1:], strict=False))
    return gaps


async def relay_workload(port: int, timelines: list[Timeline], seats: int) -> None:
    """Replay each run's calls through the bare relay: the seats together, then judge, then writer."""
    async with aiohttp.ClientSession() as session:

        async def stream(model: str) -> None:
            url = f"ws://127.0.0.1:{port}/ws?model={model}&prompt={PROMPT}"
            async with session.ws_connect(url) as ws:
                async for message in ws:
                    if message.data == "[DONE]":
                        break

        for t in timelines:
            models = [r.model for r in t.records]
            await asyncio.gather(*(stream(m) for m in models[:seats]))
            for m in models[seats : seats + 2]:
                await stream(m)


def start_relay(simulator_url: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.relay", simulator_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, port


def cpu_of(pid: int) -> float:
    return proc_cpu_seconds(pid)
