"""Runs on the panel's judging terms: a quorum's late seat saved, its answers fused again with
all answers, and re-judged by another judge, with both results kept and no seat asked again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from chat import runs
from chat.fusion.events import FusedDone
from chat.fusion.options import RunOptions
from chat.models import Panel, Run, SeatAnswer
from chat.providers.types import TextDelta
from chat.runs import dispatch, services
from chat.runs.dispatch import wait_for_run
from chat.runs.execution import LATE_SEATS_STOPPED_NOTE
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, Gate, analysis_json, answer
from tests.test_runs import FUSED_TEXT, QUIET, SEAT_TEXTS, saved, script_judge_and_writer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_catalog"),
]

OTHER_JUDGE = "other/judge"


@pytest.fixture
def fake() -> FakeModelClient:
    return FakeModelClient()


def execute(run: Run, fake: FakeModelClient) -> None:
    dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=QUIET))


async def a_quorum_run(make_run: Callable[..., Run], alice: User) -> Run:
    """A new run, not started, of a panel that judges at two of its three seats."""
    unstarted = await sync_to_async(make_run)(alice)
    # A run copies its panel's terms when it is made: this one is made again, with them.
    await Panel.objects.filter(pk=unstarted.panel_id).aupdate(options=RunOptions(quorum=2).stored())
    await Run.objects.filter(pk=unstarted.pk).aupdate(status=Run.Status.STOPPED)
    panel = await Panel.objects.aget(pk=unstarted.panel_id)
    turn = await sync_to_async(lambda: unstarted.turn)()
    return (await sync_to_async(runs.open_run)(alice, runs.Rerun(turn, panel), catalog=None)).run


async def a_quorum_run_with_a_late_seat(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> Run:
    run = await a_quorum_run(make_run, alice)
    slow = Gate()
    fake.script(SEATS[0], answer(SEAT_TEXTS[0]))
    fake.script(SEATS[1], answer(SEAT_TEXTS[1]))
    fake.script(SEATS[2], [slow, *answer("The late answer.")])
    script_judge_and_writer(fake)
    execute(run, fake)
    async with asyncio.timeout(10):
        await fake.wait_for_requests(5)  # three seats, the judge, the writer
        slow.open()
        await wait_for_run(run.pk)
    return await Run.objects.aget(pk=run.pk)


async def test_a_late_seat_is_saved_as_late_and_its_answer_kept(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    run = await a_quorum_run_with_a_late_seat(make_run, alice, fake)
    row, answers = await saved(run)
    assert row.status == Run.Status.DONE and row.judged_at_ms is not None
    assert [a.late for a in answers] == [False, False, True]
    assert answers[2].status == SeatAnswer.Status.DONE and answers[2].text == "The late answer."
    assert row.note.startswith("Judged on 2 of 3 seats at its quorum;")
    assert "The late answer." not in str(fake.requests_for(JUDGE)[0].messages)


async def test_refusing_with_all_answers_judges_the_late_one_too_and_asks_no_seat(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    first = await a_quorum_run_with_a_late_seat(make_run, alice, fake)
    asked_before = len(fake.requests)
    script_judge_and_writer(fake)

    opened = await sync_to_async(runs.open_run)(alice, runs.Rejudge(first), catalog=None)
    execute(opened.run, fake)
    await wait_for_run(opened.run.pk)

    assert [request.model for request in fake.requests[asked_before:]] == [JUDGE, WRITER]
    assert "The late answer." in str(fake.requests[asked_before].messages)
    again, answers = await saved(opened.run)
    assert again.status == Run.Status.DONE and again.retry_of_id == first.pk
    assert again.run_options.quorum is None and again.judged_at_ms is None
    assert all(answer.reused for answer in answers)
    # Only the judge and the writer are billed (10 + 20 tokens each).
    assert (again.prompt_tokens, again.completion_tokens) == (20, 40)


async def test_re_judging_with_another_judge_keeps_both_results(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    first = await sync_to_async(make_run)(alice)
    for model, text in zip(SEATS, SEAT_TEXTS, strict=True):
        fake.script(model, answer(text))
    script_judge_and_writer(fake)
    execute(first, fake)
    await wait_for_run(first.pk)
    first = await Run.objects.aget(pk=first.pk)
    asked_before = len(fake.requests)
    fake.script(OTHER_JUDGE, answer(analysis_json()))
    fake.script(WRITER, answer("Another fused answer."))

    opened = await sync_to_async(runs.open_run)(alice, runs.Rejudge(first, judge=OTHER_JUDGE), catalog=None)
    execute(opened.run, fake)
    await wait_for_run(opened.run.pk)

    assert [request.model for request in fake.requests[asked_before:]] == [OTHER_JUDGE, WRITER]
    second, _ = await saved(opened.run)
    earlier, _ = await saved(first)
    assert (second.judge, second.fused_text) == (OTHER_JUDGE, "Another fused answer.")
    assert earlier.judge == JUDGE and earlier.fused_text and earlier.fused_text != second.fused_text
    turn_runs = [pk async for pk in Run.objects.filter(turn_id=first.turn_id).values_list("pk", flat=True)]
    assert turn_runs == [first.pk, second.pk]


async def test_a_running_or_auto_fuse_run_cannot_be_re_judged(
    make_run: Callable[..., Run], alice: User
) -> None:
    running = await sync_to_async(make_run)(alice)
    with pytest.raises(runs.LimitReached):
        await sync_to_async(runs.open_run)(alice, runs.Rejudge(running), catalog=None)
    await Run.objects.filter(pk=running.pk).aupdate(status=Run.Status.DONE, auto_fuse=True)
    await SeatAnswer.objects.filter(run=running).aupdate(status=SeatAnswer.Status.DONE, text="x")
    ended = await Run.objects.aget(pk=running.pk)
    with pytest.raises(runs.LimitReached, match="fused again"):
        await sync_to_async(runs.open_run)(alice, runs.Rejudge(ended), catalog=None)


async def test_stopping_a_run_whose_fused_answer_is_whole_ends_it_done_with_the_late_seat_stopped(
    make_run: Callable[..., Run], alice: User, fake: FakeModelClient
) -> None:
    run = await a_quorum_run(make_run, alice)
    fake.script(SEATS[0], answer(SEAT_TEXTS[0]))
    fake.script(SEATS[1], answer(SEAT_TEXTS[1]))
    fake.script(SEATS[2], [TextDelta(text="Half of the late "), asyncio.Event()])
    script_judge_and_writer(fake)
    execute(run, fake)
    events = dispatch.listen(run.pk)
    async with asyncio.timeout(10):
        while not isinstance(await events.get(), FusedDone):
            pass
        await runs.stop(run.pk)
        await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert row.status == Run.Status.DONE and row.note == LATE_SEATS_STOPPED_NOTE
    assert row.fused_text == FUSED_TEXT
    assert (answers[2].status, answers[2].text) == (SeatAnswer.Status.STOPPED, "Half of the late ")
