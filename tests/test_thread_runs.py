"""Follow-ups, retries of failed seats, and re-runs of a turn with another panel."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient

from chat.models import Panel, Run, SeatAnswer
from chat.providers.errors import ProviderError
from chat.providers.types import ModelInfo
from chat.runs import creation, dispatch, services
from chat.runs.creation import create_retry
from chat.runs.dispatch import wait_for_run
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, answer
from tests.test_runs import (
    FUSED_TEXT,
    QUIET,
    SEAT_TEXTS,
    saved,
    script_judge_and_writer,
    script_other_seats,
    script_seats,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_catalog"),
]


@pytest.fixture
def fake() -> FakeModelClient:
    return FakeModelClient()


async def run_to_the_end(run: Run, fake: FakeModelClient) -> Run:
    dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=QUIET))
    await wait_for_run(run.pk)
    row, _ = await saved(run)
    return row


async def a_run_whose_first_seat_failed(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> Run:
    run = await sync_to_async(make_run)(alice)
    fake.script(SEATS[0], ProviderError("The provider is overloaded.", status=503, retryable=True))
    script_other_seats(fake)
    script_judge_and_writer(fake)
    return await run_to_the_end(run, fake)


async def test_a_retry_asks_only_the_failed_seat_then_judges_and_fuses_again(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    first = await a_run_whose_first_seat_failed(make_run, alice, fake)
    asked_before = len(fake.requests)
    fake.script(SEATS[0], answer("Alpha, second try."))
    script_judge_and_writer(fake)

    retry = await sync_to_async(create_retry)(first, simulated=False)
    retry = await run_to_the_end(retry, fake)

    asked = [request.model for request in fake.requests[asked_before:]]
    assert sorted(asked) == sorted([SEATS[0], JUDGE, WRITER])
    _, answers = await saved(retry)
    assert [a.text for a in answers] == ["Alpha, second try.", *SEAT_TEXTS[1:]]
    assert [a.reused for a in answers] == [False, True, True]
    assert (
        retry.status == Run.Status.DONE and retry.fused_text == FUSED_TEXT and retry.retry_of_id == first.pk
    )
    _, old_answers = await saved(first)
    assert old_answers[0].status == SeatAnswer.Status.FAILED  # the earlier run is kept as it was


async def test_a_retry_bills_only_its_new_calls(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    first = await a_run_whose_first_seat_failed(make_run, alice, fake)
    fake.script(SEATS[0], answer("Again."))
    script_judge_and_writer(fake)
    retry = await run_to_the_end(await sync_to_async(create_retry)(first, simulated=False), fake)
    # Each fake call reports 10 + 20 tokens: the retried seat, the judge and the writer.
    assert (retry.prompt_tokens, retry.completion_tokens) == (30, 60)


async def test_a_follow_up_carries_the_earlier_prompt_and_its_fused_answer(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    first = await sync_to_async(make_run)(alice, "Why is the sky blue?")
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    await run_to_the_end(first, fake)

    conversation = await sync_to_async(lambda: first.turn.conversation)()
    panel = await Panel.objects.aget(pk=first.panel_id)
    follow_up = await sync_to_async(creation.create_turn_and_run)(
        conversation, "And at sunset?", panel, simulated=False
    )
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    asked_before = len(fake.requests)
    await run_to_the_end(follow_up, fake)

    seat_request = fake.requests[asked_before]
    assert seat_request.messages == [
        {"role": "user", "content": "Why is the sky blue?"},
        {"role": "assistant", "content": FUSED_TEXT},
        {"role": "user", "content": "And at sunset?"},
    ]


async def test_a_trimmed_thread_is_saved_as_a_note_on_the_run(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient, run_services: Callable[..., None]
) -> None:
    async def tiny_windows(endpoints: object) -> dict[str, ModelInfo]:
        return {seat: ModelInfo(id=seat, name=seat, endpoint="e", context_length=5_000) for seat in SEATS}

    run_services(catalog=tiny_windows)
    first = await sync_to_async(make_run)(alice, "x" * 40_000)
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    await run_to_the_end(first, fake)
    conversation = await sync_to_async(lambda: first.turn.conversation)()
    panel = await Panel.objects.aget(pk=first.panel_id)
    follow_up = await sync_to_async(creation.create_turn_and_run)(
        conversation, "Shorter?", panel, simulated=False
    )
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    follow_up = await run_to_the_end(follow_up, fake)
    assert "1 oldest turn was left out" in follow_up.thread_note and "5,000 tokens" in follow_up.thread_note


# -- the views ----------------------------------------------------------------------------


@pytest.fixture
def started(run_services: Callable[..., None]) -> list[int]:
    recorded: list[int] = []
    run_services(dispatch=lambda run_id, *args: recorded.append(run_id))
    return recorded


async def signed_in(user: User) -> AsyncClient:
    client = AsyncClient()
    await sync_to_async(client.force_login)(user)
    return client


async def test_retry_starts_a_new_run_of_the_same_turn(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    run = await sync_to_async(make_run)(alice)
    await Run.objects.filter(pk=run.pk).aupdate(status=Run.Status.FAILED)
    response = await (await signed_in(alice)).post(f"/runs/{run.pk}/retry/")
    assert response.status_code == 302
    retry = await Run.objects.exclude(pk=run.pk).aget()
    assert started == [retry.pk] and retry.turn_id == run.turn_id and retry.retry_of_id == run.pk


async def test_a_running_run_cannot_be_retried(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    run = await sync_to_async(make_run)(alice)
    response = await (await signed_in(alice)).post(f"/runs/{run.pk}/retry/")
    assert response.status_code == 409 and started == [] and await Run.objects.acount() == 1


async def test_bob_cannot_retry_or_rerun_alices_turn(
    make_run: Callable[..., Run], alice: User, bob: User, started: list[int]
) -> None:
    run = await sync_to_async(make_run)(alice)
    await Run.objects.filter(pk=run.pk).aupdate(status=Run.Status.FAILED)
    client = await signed_in(bob)
    assert (await client.post(f"/runs/{run.pk}/retry/")).status_code == 404
    assert (await client.post(f"/turns/{run.turn_id}/rerun/", {"panel": run.panel_id})).status_code == 404
    assert started == [] and await Run.objects.acount() == 1


async def test_rerun_with_another_panel_keeps_the_earlier_run_as_an_alternative(
    make_run: Callable[..., Run], alice: User, started: list[int]
) -> None:
    run = await sync_to_async(make_run)(alice)
    await Run.objects.filter(pk=run.pk).aupdate(status=Run.Status.DONE)
    other = await Panel.objects.acreate(owner=alice, name="Other", seats=["x/a", "x/b"], judge="x/a")
    response = await (await signed_in(alice)).post(f"/turns/{run.turn_id}/rerun/", {"panel": other.pk})
    assert response.status_code == 302
    rerun = await Run.objects.exclude(pk=run.pk).aget()
    assert (rerun.turn_id, rerun.panel_id, rerun.panel_name, rerun.retry_of_id) == (
        run.turn_id,
        other.pk,
        "Other",
        run.pk,
    )
    assert [a.model async for a in rerun.answers.order_by("index")] == ["x/a", "x/b"]
    assert await Run.objects.acount() == 2 and started == [rerun.pk]


async def test_rerun_needs_a_panel_the_user_may_use(
    make_run: Callable[..., Run], alice: User, bob: User, started: list[int]
) -> None:
    run = await sync_to_async(make_run)(alice)
    await Run.objects.filter(pk=run.pk).aupdate(status=Run.Status.DONE)
    bobs = await Panel.objects.acreate(owner=bob, name="Bob's", seats=["x/a", "x/b"], judge="x/a")
    response = await (await signed_in(alice)).post(f"/turns/{run.turn_id}/rerun/", {"panel": bobs.pk})
    assert response.status_code == 400 and started == []
