"""Runs left behind by a dead process, per-user limits, the spend budget, and many runs at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from chat.models import Panel, Run, SeatAnswer, SpendBudget
from chat.runs import dispatch, services
from chat.runs.dispatch import wait_for_run
from chat.runs.gate import LimitReached, check_can_start
from chat.runs.pacing import Pacing
from chat.runs.recovery import mark_interrupted, mark_interrupted_at_startup
from chat.runs.state import RunState
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, analysis_json, answer


def running_run(make_run: Callable[..., Run], owner: User, *, beat_ago: timedelta | None = None) -> Run:
    run = make_run(owner)
    SeatAnswer.objects.filter(run=run, index=0).update(status=SeatAnswer.Status.WRITING, text="Half an ans")
    if beat_ago is not None:
        Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - beat_ago)
    return run


# -- a process that died ---------------------------------------------------------------------


@pytest.mark.django_db
def test_on_start_a_single_process_marks_every_running_run_interrupted_and_keeps_its_text(
    make_run: Callable[..., Run], alice: User, settings: Any
) -> None:
    settings.REDIS_URL = ""
    run = running_run(make_run, alice, beat_ago=timedelta(seconds=1))
    assert mark_interrupted_at_startup() == 1
    run.refresh_from_db()
    assert run.status == Run.Status.INTERRUPTED and "nothing was re-run" in run.note
    first = run.answers.get(index=0)
    assert (first.status, first.text) == (SeatAnswer.Status.STOPPED, "Half an ans")


@pytest.mark.django_db
def test_with_several_processes_only_runs_whose_heartbeat_stopped_are_interrupted(
    make_run: Callable[..., Run], alice: User, settings: Any
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    alive = running_run(make_run, alice, beat_ago=timedelta(seconds=5))
    dead = running_run(make_run, alice, beat_ago=timedelta(minutes=5))
    assert mark_interrupted_at_startup() == 1
    assert Run.objects.get(pk=alive.pk).status == Run.Status.RUNNING
    assert Run.objects.get(pk=dead.pk).status == Run.Status.INTERRUPTED


@pytest.mark.django_db
def test_finished_runs_are_never_touched(make_run: Callable[..., Run], alice: User) -> None:
    run = make_run(alice)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, note="fine")
    assert mark_interrupted(stale_after=None) == 0
    assert Run.objects.get(pk=run.pk).note == "fine"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_first_request_a_new_process_serves_recovers_orphaned_runs_first(
    make_run: Callable[..., Run], alice: User, settings: Any
) -> None:
    from fusionroom.asgi import application

    settings.FUSIONROOM_RECOVER_RUNS = True
    settings.REDIS_URL = ""
    run = await sync_to_async(running_run)(make_run, alice)
    communicator = HttpCommunicator(
        application, "GET", "/accounts/login/", headers=[(b"host", b"testserver")]
    )
    response = await communicator.get_response()
    assert response["status"] == 200
    assert (await Run.objects.aget(pk=run.pk)).status == Run.Status.INTERRUPTED


def test_a_live_run_beats_so_the_sweep_can_tell_it_is_alive() -> None:
    run = Run(pk=1)
    live = RunState(run, [])
    live.beat()
    run_values, _ = live.take_dirty()
    assert run_values["heartbeat_at"] is not None


# -- limits ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_may_have_only_so_many_runs_going_at_once(
    make_run: Callable[..., Run], alice: User, bob: User, settings: Any
) -> None:
    settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 2
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 100
    make_run(alice), make_run(alice)
    with pytest.raises(LimitReached, match="2 runs going"):
        check_can_start(alice, thread_chars=10, estimate=None)
    check_can_start(bob, thread_chars=10, estimate=None)  # bob's count is his own


@pytest.mark.django_db
def test_a_user_may_start_only_so_many_runs_a_minute(
    make_run: Callable[..., Run], alice: User, settings: Any
) -> None:
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 2
    for _ in range(2):
        Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE)
    with pytest.raises(LimitReached, match="in the last minute"):
        check_can_start(alice, thread_chars=10, estimate=None)


@pytest.mark.django_db
def test_a_thread_too_long_is_refused_before_any_provider_is_called(alice: User, settings: Any) -> None:
    settings.FUSIONROOM_MAX_THREAD_CHARS = 1000
    with pytest.raises(LimitReached, match="too long"):
        check_can_start(alice, thread_chars=1001, estimate=None)


@pytest.mark.django_db
def test_a_run_that_would_go_over_the_budget_is_refused_and_says_what_is_left(
    make_run: Callable[..., Run], alice: User
) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("1.00"))
    Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE, cost=0.75)
    check_can_start(alice, thread_chars=10, estimate=0.20)
    with pytest.raises(LimitReached, match=r"\$0\.2500 is left and the run is estimated at \$0\.3000"):
        check_can_start(alice, thread_chars=10, estimate=0.30)


@pytest.mark.django_db
def test_last_months_spend_does_not_count_against_this_days_budget(
    make_run: Callable[..., Run], alice: User
) -> None:
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("1.00"))
    old = make_run(alice)
    Run.objects.filter(pk=old.pk).update(
        status=Run.Status.DONE, cost=50, started_at=timezone.now() - timedelta(days=40)
    )
    check_can_start(alice, thread_chars=10, estimate=0.5)


@pytest.mark.django_db
def test_sending_over_a_limit_shows_the_reason_and_creates_nothing(
    alice: User, presets: dict[str, Panel], settings: Any
) -> None:
    settings.FUSIONROOM_MAX_THREAD_CHARS = 50
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/send/", {"message": "x" * 60, "panel": presets["Budget"].pk}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422 and "too long" in response.content.decode()
    assert Run.objects.count() == 0


@pytest.mark.django_db
def test_the_settings_page_sets_and_removes_a_budget(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    client.post("/settings/budget/", {"period": "month", "limit_usd": "12.50"})
    assert SpendBudget.objects.get(user=alice).limit_usd == Decimal("12.50")
    assert "of $12.50" in client.get("/settings/").content.decode()
    client.post("/settings/budget/", {"period": "month", "limit_usd": ""})
    assert not SpendBudget.objects.filter(user=alice).exists()


# -- many runs at once ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_twenty_simultaneous_runs_on_sqlite_lose_no_event(
    make_run: Callable[..., Run], alice: User, no_catalog: None
) -> None:
    fake = FakeModelClient()
    texts = {}
    started = []
    for number in range(20):
        for seat, model in enumerate(SEATS):
            text = " ".join(f"run{number}-seat{seat}-word{i}" for i in range(150))
            texts[(number, seat)] = text
            fake.script(model, answer(text))
        fake.script(JUDGE, answer(analysis_json()))
        fake.script(WRITER, answer(f"Fused {number}."))
        started.append(await sync_to_async(make_run)(alice, f"Question {number}"))
    # Short clocks: the runs save and frame while they all write at once.
    for run in started:
        quick = Pacing(flush_seconds=0.01, frame_seconds=0.005)
        dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=quick))
    await asyncio.gather(*(wait_for_run(run.pk) for run in started))

    rows = [row async for row in Run.objects.filter(pk__in=[r.pk for r in started])]
    assert {row.status for row in rows} == {Run.Status.DONE}
    saved = {}
    async for answer_row in SeatAnswer.objects.filter(run__in=started).select_related("run__turn"):
        saved[answer_row.run_id, answer_row.index] = answer_row.text

    # Fakes answer in script order, so match texts as a multiset: every word of every seat arrived once.
    assert sorted(saved.values()) == sorted(texts.values())
