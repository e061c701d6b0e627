"""Several processes on PostgreSQL and Redis: a run started through one web process streams to a
browser on another, executes in a worker, survives its web process, and a dead worker's runs
are marked interrupted."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from chat.models import Panel, Run, SeatAnswer
from chat.rendering import StreamingMarkdown, render_markdown
from chat.runs.recovery import INTERRUPTED_NOTE
from chat.simulator import SimulatorThread
from tests.cluster.processes import Cluster, WebProcess

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-9"
# Generous: these are deadlines for state other processes reach, polled, not sleeps.
DEADLINE = 30.0


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def budget(presets: dict[str, Panel]) -> Panel:
    return presets["Budget"]


@asynccontextmanager
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client that keeps cookies, for 127.0.0.1 on any port (as a browser would)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


def csrf_token(session: aiohttp.ClientSession) -> str:
    return next(cookie.value for cookie in session.cookie_jar if cookie.key == "csrftoken")


async def sign_in(session: aiohttp.ClientSession, web: WebProcess, username: str) -> None:
    async with session.get(f"{web.url}/accounts/login/") as page:
        assert page.status == 200
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(session)}
    async with session.post(f"{web.url}/accounts/login/", data=form, allow_redirects=False) as signed_in:
        assert signed_in.status == 302, await signed_in.text()


async def ask(session: aiohttp.ClientSession, web: WebProcess, prompt: str, panel: Panel) -> int:
    """Send the first message of a new conversation; returns the run it started."""
    form = {"message": prompt, "panel": str(panel.pk), "csrfmiddlewaretoken": csrf_token(session)}
    async with session.post(f"{web.url}/send/", data=form, allow_redirects=False) as sent:
        assert sent.status == 302, await sent.text()
    run = await Run.objects.filter(turn__prompt=prompt).order_by("-pk").afirst()
    assert run is not None
    return run.pk


@asynccontextmanager
async def run_socket(
    session: aiohttp.ClientSession, web: WebProcess, run_id: int
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with session.ws_connect(f"{web.ws_url}/ws/runs/{run_id}/", origin=web.url) as socket:
        yield socket


async def poll(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Wait until another process has made `check()` true (it returns the value); fail past the deadline."""
    give_up = time.monotonic() + deadline
    while not (value := await sync_to_async(check)()):
        if time.monotonic() > give_up:
            raise AssertionError(f"Still waiting after {deadline} s for {what}")
        await asyncio.sleep(0.05)
    return value


def wait_for_seat_requests(sim: SimulatorThread, panel: Panel) -> None:
    for model in panel.seats:
        sim.wait_for_requests(1, model=model, timeout=DEADLINE)


def is_run_section(html: str, run_id: int, status: str) -> bool:
    return f'id="run-{run_id}"' in html and f'data-status="{status}"' in html


async def frames_until_done(socket: aiohttp.ClientWebSocketResponse, run_id: int) -> list[str]:
    """Every frame up to the run's final snapshot, which it sends once the end is saved: the
    whole run shown done twice, by the frame of its last event and then by that snapshot."""
    frames: list[str] = []
    while sum(is_run_section(frame, run_id, "done") for frame in frames) < 2:
        frames.append(await socket.receive_str(timeout=DEADLINE))
    return frames


BLOCKS = re.compile(
    r'<div id="(?P<column>run-\d+-(?:seat-\d+|fused))-blocks" hx-swap-oob="beforeend">(?P<html>.*?)'
    r'</div><div id="(?P=column)-tail" hx-swap-oob="innerHTML">',
    re.DOTALL,
)


def streamed_blocks(frames: list[str]) -> dict[str, str]:
    """What the frames appended to each column's settled text, in the order they came."""
    columns: dict[str, str] = {}
    for frame in frames:
        for found in BLOCKS.finditer(frame):
            columns[found["column"]] = columns.get(found["column"], "") + found["html"]
    return columns


def whole_block_prefixes(text: str) -> set[str]:
    """Every run of whole settled blocks from the start of the text, as the page would show them
    (a column's last blocks may come with its final frame, which redraws it whole)."""
    blocks, _ = StreamingMarkdown().feed(text)
    return {"".join(blocks[:count]) for count in range(1, len(blocks) + 1)}


async def test_a_run_started_through_one_web_process_streams_whole_and_in_order_to_another(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    a, b = cluster.web(), cluster.web()
    cluster.worker()
    for model in budget.seats:
        sim.hold(model)  # each seat waits before its first token, so the socket sees every frame

    async with browser() as session:
        await sign_in(session, b, "alice")
        run_id = await ask(session, b, "Why is the sky blue?", budget)
        await sync_to_async(wait_for_seat_requests)(sim, budget)
        async with run_socket(session, a, run_id) as socket:  # the session is valid on A too
            snapshot = await socket.receive_str(timeout=DEADLINE)
            sim.release()
            frames = await frames_until_done(socket, run_id)

    run = await Run.objects.aget(pk=run_id)
    answers = [answer async for answer in SeatAnswer.objects.filter(run=run).order_by("index")]
    streamed = streamed_blocks(frames)
    assert is_run_section(snapshot, run_id, "running")
    assert run.status == Run.Status.DONE
    assert all(answer.status == SeatAnswer.Status.DONE and answer.text for answer in answers)
    # Every seat and the fused answer streamed through A: block after block, from the first,
    # once each and in order (a block lost or repeated would leave no whole-block prefix).
    assert set(streamed) == {f"run-{run_id}-seat-{a.index}" for a in answers} | {f"run-{run_id}-fused"}
    for answer in answers:
        assert streamed[f"run-{run_id}-seat-{answer.index}"] in whole_block_prefixes(answer.text)
    assert streamed[f"run-{run_id}-fused"] in whole_block_prefixes(run.fused_text)
    # The rest came with the columns' final frames: every answer in full, as saved.
    assert 'data-status="done"' in frames[-1]
    for text in [*(answer.text for answer in answers), run.fused_text]:
        assert any(render_markdown(text) in frame for frame in frames)


async def test_a_run_goes_on_when_the_web_process_that_started_it_is_gone(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    a, b = cluster.web(), cluster.web()
    cluster.worker()
    sim.hold(budget.seats[0], after_tokens=3)

    async with browser() as session:
        await sign_in(session, b, "alice")
        run_id = await ask(session, b, "Rust or Go for a CLI?", budget)
        await sync_to_async(wait_for_seat_requests)(sim, budget)
        b.kill()
        async with run_socket(session, a, run_id) as socket:
            await socket.receive_str(timeout=DEADLINE)  # the snapshot, from the worker
            sim.release()
            await frames_until_done(socket, run_id)

    assert (await Run.objects.aget(pk=run_id)).status == Run.Status.DONE


async def test_stop_through_either_web_process_ends_each_run_saved_as_stopped(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    cluster.env["FUSIONROOM_MAX_RUNS_PER_MINUTE"] = "100"
    a, b = cluster.web(), cluster.web()
    cluster.worker()

    async with browser() as session:
        await sign_in(session, a, "alice")
        for number in range(10):  # run after run in one worker: no stop may be lost
            for model in budget.seats:
                sim.hold(model, after_tokens=3)
            run_id = await ask(session, a, f"Question {number}?", budget)
            await sync_to_async(sim.wait_for_requests)(3 * (number + 1), timeout=DEADLINE)
            stop_through = (a, b)[number % 2]
            headers = {"X-CSRFToken": csrf_token(session), "HX-Request": "true"}
            async with session.post(f"{stop_through.url}/runs/{run_id}/stop/", headers=headers) as stopped:
                assert stopped.status == 204

            def run_stopped(run_id: int = run_id) -> bool:
                return Run.objects.filter(pk=run_id, status=Run.Status.STOPPED).exists()

            await poll(run_stopped, f"run {run_id} to be saved as stopped")
            sim.release()


async def test_a_worker_killed_mid_run_leaves_its_run_interrupted_and_its_viewers_are_shown(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    a, b = cluster.web(), cluster.web()
    worker = cluster.worker()
    for model in budget.seats:
        sim.hold(model, after_tokens=5)  # every seat mid-answer, deterministically

    async with browser() as session:
        await sign_in(session, b, "alice")
        run_id = await ask(session, b, "Monolith or microservices?", budget)

        def text_saved_and_beating() -> bool:
            run = Run.objects.filter(pk=run_id, heartbeat_at__isnull=False).first()
            answers = SeatAnswer.objects.filter(run_id=run_id)
            return run is not None and all(answer.text or answer.reasoning for answer in answers)

        await poll(text_saved_and_beating, f"run {run_id}'s first words to be saved")
        async with run_socket(session, a, run_id) as socket:
            await socket.receive_str(timeout=DEADLINE)  # the snapshot, while the worker lives
            worker.kill()
            last = ""
            # The sweep of a web process marks it, and shows the viewer: no reload needed.
            while not is_run_section(last, run_id, "interrupted"):
                last = await socket.receive_str(timeout=DEADLINE)

    run = await Run.objects.aget(pk=run_id)
    answers = [answer async for answer in SeatAnswer.objects.filter(run=run)]
    assert (run.status, run.note) == (Run.Status.INTERRUPTED, INTERRUPTED_NOTE)
    # What arrived before the worker died is kept.
    assert all(answer.status == SeatAnswer.Status.STOPPED for answer in answers)
    assert all(answer.text or answer.reasoning for answer in answers)


async def test_make_run_cluster_serves_a_run_through_its_load_balancer(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    launcher = cluster.launcher(web=2, workers=2)
    balancer = launcher.wait_for_line(r"Listening on (http://127\.0\.0\.1:\d+)").group(1)
    for number in (1, 2):
        launcher.wait_for_line(rf"\[web-{number}\] Listening on TCP address")
    front = WebProcess.at(balancer)

    async with browser() as session:
        await sign_in(session, front, "alice")
        run_id = await ask(session, front, "Why is the sky blue?", budget)
        async with run_socket(session, front, run_id) as socket:  # a websocket through the proxy
            await frames_until_done(socket, run_id)

    assert (await Run.objects.aget(pk=run_id)).status == Run.Status.DONE


async def test_a_worker_told_to_stop_marks_its_runs_interrupted_at_once(
    cluster: Cluster, sim: SimulatorThread, alice: User, budget: Panel
) -> None:
    cluster.env["FUSIONROOM_HEARTBEAT_STALE_SECONDS"] = "600"  # no sweep could be what marks it
    a = cluster.web()
    worker = cluster.worker()
    for model in budget.seats:
        sim.hold(model, after_tokens=5)

    async with browser() as session:
        await sign_in(session, a, "alice")
        run_id = await ask(session, a, "Vim or Emacs?", budget)
        await sync_to_async(wait_for_seat_requests)(sim, budget)
        async with run_socket(session, a, run_id) as socket:
            await socket.receive_str(timeout=DEADLINE)
            worker.popen.send_signal(signal.SIGTERM)  # a restart, a deploy: not a crash
            last = ""
            while not is_run_section(last, run_id, "interrupted"):
                last = await socket.receive_str(timeout=DEADLINE)

    run = await Run.objects.aget(pk=run_id)
    assert (run.status, run.note) == (Run.Status.INTERRUPTED, INTERRUPTED_NOTE)
    assert worker.popen.wait(timeout=DEADLINE) == 0
