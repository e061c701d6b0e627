"""Benchmark 12: judging at a quorum (issue 20), measured from the outside as benchmark 1 is.

A three-seat panel whose third seat starts answering SLOW_BY_S later than the other two runs
through the chatroom twice: once waiting for every seat, once with a quorum of two
(`RunOptions(quorum=2)` on the panel; late seats kept, the default). Measured: the time from the
POST to the fused answer's first token on the websocket, and benchmark 1's overhead ratio (wall
÷ critical path), the critical path counting only the seats the judge read, and bounded below by
the late seat's own stream (a kept late seat ends the run when it ends).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import live

# Models no later benchmark uses, so configuring them here changes nothing after.
SEATS = ["openai/gpt-5.5", "google/gemini-3.1-pro-preview", "anthropic/claude-opus-4.8"]
SLOW = SEATS[-1]
JUDGE = SEATS[0]  # and the writer
QUORUM = len(SEATS) - 1
# The straggler: 10 s slower than the others. The smoke test (--quick) waits 2 s: enough
# to see the quorum cut, short enough for CI.
SLOW_BY_S = 10.0
QUICK_SLOW_BY_S = 2.0
TTFT_S = 0.3
# Fast calls, so the two runs fit in ~25 s: the straggler's wait is what is measured.
TOKENS_PER_SECOND = 600


def configure(sim: Any, slow_by: float, tokens: int) -> None:
    for model in SEATS:
        sim.configure(model, ttft_s=TTFT_S, tokens_per_second=TOKENS_PER_SECOND, answer_tokens=tokens)
    sim.configure(SLOW, ttft_s=TTFT_S + slow_by)


def create_panels(username: str) -> tuple[int, int]:
    """The account's panel that waits for every seat, and its twin with the quorum (ORM; django
    is set up by the caller)."""
    from django.contrib.auth.models import User

    from chat.fusion.options import RunOptions
    from chat.models import Panel

    owner = User.objects.get(username=username)
    waits = Panel.objects.create(owner=owner, name="Straggler, waits for all", seats=SEATS, judge=JUDGE)
    quorum = Panel.objects.create(
        owner=owner,
        name=f"Straggler, quorum {QUORUM}",
        seats=SEATS,
        judge=JUDGE,
        options=RunOptions(quorum=QUORUM).stored(),
    )
    return waits.pk, quorum.pk


def late_seats(run_id: int) -> list[int]:
    from chat.models import SeatAnswer

    return sorted(SeatAnswer.objects.filter(run_id=run_id, late=True).values_list("index", flat=True))


def _span(record: Any) -> float:
    return float(record.finished_at - record.received_at)


def figures(t: live.Timeline, late: list[int]) -> dict[str, Any]:
    """One run's figures; `late`: the seats the judge did not read."""
    from chat.runs.protocol import FUSED, column_dom_id

    seats = t.records[: t.seats]
    judge, writer = t.records[t.seats], t.records[t.seats + 1]
    judged = [seat for seat in range(t.seats) if seat not in late]
    to_judge = max(_span(seats[seat]) for seat in judged) + _span(judge)
    critical = max([to_judge + _span(writer), *(_span(record) for record in seats)])
    # The fused answer's first token on the socket: the first message that fills its column's tail.
    marker = f'id="{column_dom_id(t.run_id, FUSED, "tail")}" hx-swap-oob="innerHTML">'
    first_fused = next(at for at, html in t.frames if marker in html and marker + "</div>" not in html)
    to_first_token = to_judge + (writer.first_token_at - writer.received_at)
    judged_done = max(seats[seat].finished_at for seat in judged)
    return {
        "run_id": t.run_id,
        "late": late,
        # Where the time beyond the models' own goes, in ms (as benchmark 1's stages).
        "stages_ms": {
            "start": (min(record.received_at for record in seats) - t.t_post) * 1000,
            "seats_to_judge": (judge.received_at - judged_done) * 1000,
            "judge_to_writer": (writer.received_at - judge.finished_at) * 1000,
            "writer_to_socket": (first_fused - writer.first_token_at) * 1000,
        },
        "judge_asked_s": judge.received_at - t.t_post,
        "slow_seat_done_s": seats[SEATS.index(SLOW)].finished_at - t.t_post,
        "fused_first_token_s": first_fused - t.t_post,
        "fused_first_token_critical_s": to_first_token,
        "wall_s": t.wall,
        "critical_s": critical,
        "ratio": t.wall / critical,
        "diff_ms": (t.wall - critical) * 1000,
    }


async def quorum_benchmarks(base: str, username: str, sim: Any, quick: bool) -> dict[str, Any]:
    """The straggler panel waiting for every seat, then at its quorum; a signed-up `username`."""
    started = time.monotonic()
    slow_by = QUICK_SLOW_BY_S if quick else SLOW_BY_S
    configure(sim, slow_by, tokens=40 if quick else 100)
    waits, quorum = await asyncio.to_thread(create_panels, username)
    user = live.User(base)
    try:
        await user.sign_in(username)
        runs = {}
        for name, panel in (("all", waits), ("quorum", quorum)):
            timeline = await user.run(str(panel), SEATS, sim)
            runs[name] = figures(timeline, await asyncio.to_thread(late_seats, timeline.run_id))
    finally:
        await user.close()
    return {
        "seats": len(SEATS),
        "quorum": QUORUM,
        "slow_by_s": slow_by,
        "tokens_per_second": TOKENS_PER_SECOND,
        "runs": runs,
        "saved_s": runs["all"]["fused_first_token_s"] - runs["quorum"]["fused_first_token_s"],
        "elapsed_s": time.monotonic() - started,
    }
