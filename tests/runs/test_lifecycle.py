"""The one lifecycle: every path that starts a run passes the same gate, and ends through Run.end."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, get_args

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from chat.fusion.events import RunDone
from chat.models import Run, SeatAnswer, SpendBudget
from chat.runs import dispatch
from chat.runs.creation import create_retry
from tests.conftest import signed_in_client


def finished(run: Run, statuses: list[SeatAnswer.Status]) -> Run:
    """The run ended, its seats with these statuses (the answered ones with text)."""
    for answer, status in zip(run.answers.order_by("index"), statuses, strict=True):
        answer.status = status
        answer.text = "An answer." if status == SeatAnswer.Status.DONE else ""
        answer.save()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DEGRADED)
    run.refresh_from_db()
    return run


class RefusingLayer:
    """A channel layer that cannot take a message: Redis down, or its queue full."""

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        raise ConnectionError("the channel layer is down")

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        return None


def test_every_way_the_pipeline_ends_is_a_run_status() -> None:
    ends = RunDone.model_fields["status"].annotation
    assert set(get_args(ends)) <= set(Run.Status.values)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_retry_whose_start_fails_keeps_the_answers_it_reused(
    alice: User, make_run: Callable[..., Run], run_services: Callable[..., None]
) -> None:
    earlier = await sync_to_async(make_run)(alice)
    done, failed, stopped = SeatAnswer.Status.DONE, SeatAnswer.Status.FAILED, SeatAnswer.Status.STOPPED
    earlier = await sync_to_async(finished)(earlier, [done, failed, stopped])
    retry = await sync_to_async(create_retry)(earlier, simulated=False)
    run_services(channel_layer=RefusingLayer)

    await dispatch.hand_to_worker(retry.pk)

    saved = await Run.objects.aget(pk=retry.pk)
    answers = [answer async for answer in saved.answers.order_by("index")]
    assert saved.status == Run.Status.FAILED and saved.note == dispatch.HAND_OVER_FAILED_NOTE
    assert (answers[0].status, answers[0].text, answers[0].reused) == (done, "An answer.", True)
    assert [answer.status for answer in answers[1:]] == [failed, failed]
    assert all(answer.error == dispatch.HAND_OVER_FAILED_NOTE for answer in answers[1:])


# -- Retry and Re-run pass the gate a new message passes --------------------------------------


@pytest.fixture
def as_alice(alice: User) -> Client:
    return signed_in_client(alice)


@pytest.fixture
def failed_run(alice: User, make_run: Callable[..., Run]) -> Run:
    run = make_run(alice)
    failed = SeatAnswer.Status.FAILED
    return finished(run, [SeatAnswer.Status.DONE, failed, failed])


def send(client: Client, run: Run) -> Any:
    return client.post(
        f"/c/{run.turn.conversation_id}/send/", {"message": "And then?", "panel": run.panel_id}
    )


def retry(client: Client, run: Run) -> Any:
    return client.post(f"/runs/{run.pk}/retry/")


def rerun(client: Client, run: Run) -> Any:
    return client.post(f"/turns/{run.turn_id}/rerun/", {"panel": run.panel_id})


STARTS = [pytest.param(send, id="send"), pytest.param(retry, id="retry"), pytest.param(rerun, id="rerun")]


@pytest.fixture
def started(run_services: Callable[..., None]) -> list[int]:
    recorded: list[int] = []
    run_services(dispatch=lambda run_id, *args: recorded.append(run_id))
    return recorded


@pytest.mark.parametrize("start", STARTS)
def test_the_concurrency_limit_refuses_every_way_of_starting(
    start: Callable[[Client, Run], Any],
    as_alice: Client,
    failed_run: Run,
    make_run: Callable[..., Run],
    alice: User,
    started: list[int],
    settings: Any,
) -> None:
    settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 1
    make_run(alice)  # still running
    runs_before = Run.objects.count()

    response = start(as_alice, failed_run)

    assert response.status_code in (422, 429)
    assert "1 runs going, the most at once" in response.content.decode()
    assert Run.objects.count() == runs_before and started == []


@pytest.mark.parametrize("start", STARTS)
def test_the_rate_limit_refuses_every_way_of_starting(
    start: Callable[[Client, Run], Any],
    as_alice: Client,
    failed_run: Run,
    started: list[int],
    settings: Any,
) -> None:
    settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 1  # the failed run itself started this minute
    runs_before = Run.objects.count()

    response = start(as_alice, failed_run)

    assert "runs in the last minute" in response.content.decode()
    assert Run.objects.count() == runs_before and started == []


@pytest.mark.parametrize("start", STARTS)
def test_a_spent_budget_refuses_every_way_of_starting(
    start: Callable[[Client, Run], Any],
    as_alice: Client,
    failed_run: Run,
    alice: User,
    started: list[int],
    no_catalog: None,
) -> None:
    Run.objects.filter(pk=failed_run.pk).update(cost=0.25)
    SpendBudget.objects.create(user=alice, limit_usd=Decimal("0.10"))
    runs_before = Run.objects.count()

    response = start(as_alice, failed_run)

    assert "would go over your" in response.content.decode()
    assert Run.objects.count() == runs_before and started == []


def test_a_retry_of_a_running_turn_is_refused_as_busy(
    as_alice: Client, failed_run: Run, make_run: Callable[..., Run], started: list[int]
) -> None:
    Run.objects.filter(pk=failed_run.pk).update(status=Run.Status.RUNNING)

    response = retry(as_alice, failed_run)

    assert response.status_code == 409
    assert started == []
