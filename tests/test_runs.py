"""Runs: what a run saves, what it publishes to viewers, and how it stops."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User
from django.db import connection

from chat import formatting
from chat.fusion import consult
from chat.fusion.events import SeatDelta, SeatStarted
from chat.models import Run, SeatAnswer
from chat.providers.errors import ProviderError
from chat.providers.types import ModelInfo, ReasoningDelta, TextDelta, ToolCallDelta
from chat.runs import dispatch, execution, services
from chat.runs.dispatch import request_stop, wait_for_run
from chat.runs.pacing import Pacing
from chat.runs.protocol import control_group, run_group
from chat.runs.state import RunState
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, Gate, analysis_json, answer, ending
from tests.layer import Message, is_final, listen, receive_until

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_catalog"),
]

# Neither clock ticks during a test: text is saved at the end and framed only when the
# pipeline asks, so what the tests see does not depend on how fast the machine is.
QUIET = Pacing(flush_seconds=60, frame_seconds=10)

SEAT_TEXTS = (
    "Alpha says the sky is blue.",
    "Beta says blue light scatters more.",
    "Gamma says it is Rayleigh scattering.",
)
FUSED_TEXT = "The sky is blue because air scatters blue light more than red light."
# What each call of the scripted runs below reports it cost.
CALL_COST = 0.001


@pytest.fixture
def fake() -> FakeModelClient:
    return FakeModelClient()


@pytest_asyncio.fixture
async def start(
    fake: FakeModelClient, channel_layer: BaseChannelLayer
) -> AsyncIterator[Callable[[Run], None]]:
    """Starts a run on the fake client; a run the test left running is stopped afterwards.

    It asks for the channel layer so that the layer is emptied only once every run has ended.
    """
    started: list[int] = []

    def start_run(run: Run) -> None:
        dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=QUIET))
        started.append(run.pk)

    yield start_run
    for run_id in started:
        await request_stop(run_id)
        await wait_for_run(run_id)


@pytest_asyncio.fixture
async def run(alice: User, make_run: Callable[..., Run]) -> Run:
    return await sync_to_async(make_run)(alice)


def script_seats(fake: FakeModelClient, *texts: str) -> None:
    for model, text in zip(SEATS, texts, strict=True):
        fake.script(model, answer(text, cost=CALL_COST))


def script_other_seats(fake: FakeModelClient) -> None:
    """Every seat but the first answers plainly, for tests about the first."""
    for model, text in zip(SEATS[1:], SEAT_TEXTS[1:], strict=True):
        fake.script(model, answer(text, cost=CALL_COST))


def script_judge_and_writer(fake: FakeModelClient) -> None:
    fake.script(JUDGE, answer(analysis_json(), cost=CALL_COST))
    fake.script(WRITER, answer(FUSED_TEXT, cost=CALL_COST))


async def saved(run: Run) -> tuple[Run, list[SeatAnswer]]:
    row = await Run.objects.aget(pk=run.pk)
    answers = [seat async for seat in SeatAnswer.objects.filter(run=row).order_by("index")]
    return row, answers


def text_frames(messages: list[Message], run: Run, seat: int) -> list[str]:
    """The frames that append to a seat's settled text and replace its tail."""
    marker = f'id="run-{run.pk}-seat-{seat}-tail" hx-swap-oob="innerHTML"'
    return [m["html"] for m in messages if m["type"] == "run.frame" and marker in m["html"]]


def seat_final_frames(messages: list[Message], run: Run, seat: int) -> list[str]:
    """The frames that replace a seat's whole column once it has finished."""
    start = '<section class="column seat'
    column = f'id="run-{run.pk}-seat-{seat}"'
    return [
        m["html"]
        for m in messages
        if m["type"] == "run.frame" and m["html"].lstrip().startswith(start) and column in m["html"]
    ]


# -- what is saved -------------------------------------------------------------------------


async def test_a_finished_run_is_saved_with_its_analysis_fused_answer_and_totals(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)

    start(run)
    await wait_for_run(run.pk)

    row, _ = await saved(run)
    assert row.status == Run.Status.DONE
    assert row.stage == Run.Stage.FINISHED
    assert row.finished_at is not None
    assert row.analysis is not None
    assert row.analysis["consensus"] == [{"point": "All three say the sky is blue.", "seats": [0, 1, 2]}]
    assert row.analysis["blind_spots"] == ["Nobody mentioned sunsets."]
    assert row.analysis_error == ""
    assert row.fused_text == FUSED_TEXT
    assert row.fused_stats is not None
    assert row.fused_stats["model"] == WRITER
    # Five calls (three seats, the judge, the writer), each reporting 10 + 20 tokens and $0.001.
    assert (row.prompt_tokens, row.completion_tokens) == (50, 100)
    assert row.cost == pytest.approx(0.005)
    assert row.duration_ms is not None and row.duration_ms > 0


async def test_each_seat_is_saved_with_its_full_text_and_figures(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)

    start(run)
    await wait_for_run(run.pk)

    _, answers = await saved(run)
    assert [seat.text for seat in answers] == list(SEAT_TEXTS)
    for seat in answers:
        assert seat.status == SeatAnswer.Status.DONE
        assert seat.error == ""
        assert (seat.prompt_tokens, seat.completion_tokens) == (10, 20)
        assert seat.cost == pytest.approx(0.001)
        assert seat.ttft_ms is not None
        assert seat.duration_ms is not None


async def test_a_failing_seat_is_saved_as_failed_with_its_reason_and_partial_text(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    fake.script(SEATS[0], answer(SEAT_TEXTS[0]))
    fake.script(
        SEATS[1],
        [TextDelta(text="Beta began "), TextDelta(text="to say"), ProviderError("The provider hung up.")],
    )
    fake.script(SEATS[2], answer(SEAT_TEXTS[2]))
    script_judge_and_writer(fake)

    start(run)
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert answers[1].status == SeatAnswer.Status.FAILED
    assert answers[1].error == "The provider hung up."
    assert answers[1].text == "Beta began to say"
    assert [answers[0].status, answers[2].status] == [SeatAnswer.Status.DONE, SeatAnswer.Status.DONE]
    assert row.status == Run.Status.DONE
    assert row.fused_text == FUSED_TEXT
    assert "2 of 3" in row.note


async def test_a_run_whose_every_seat_fails_is_saved_as_failed_with_a_note(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    for model in SEATS:
        fake.script(model, ProviderError(f"{model} is down."))

    start(run)
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert row.status == Run.Status.FAILED
    assert row.stage == Run.Stage.PANEL  # where it ended: no analysis or fused answer began
    assert "Every seat failed" in row.note
    assert "alpha/one is down" in row.note
    assert [seat.status for seat in answers] == [SeatAnswer.Status.FAILED] * 3
    assert [request.model for request in fake.requests] == list(SEATS)  # no judge, no writer


async def test_a_failing_judge_degrades_the_run_and_keeps_the_seats_answers(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    script_seats(fake, *SEAT_TEXTS)
    fake.script(JUDGE, ProviderError("The judge is overloaded."))

    start(run)
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert row.status == Run.Status.DEGRADED
    assert row.analysis is None
    assert "The judge is overloaded." in row.analysis_error
    assert "analysis is missing" in row.note
    assert row.fused_text == ""
    assert [seat.text for seat in answers] == list(SEAT_TEXTS)
    assert [seat.status for seat in answers] == [SeatAnswer.Status.DONE] * 3


# -- stopping ------------------------------------------------------------------------------


async def test_stop_keeps_what_arrived_marks_writing_seats_stopped_and_closes_their_streams(
    run: Run,
    fake: FakeModelClient,
    start: Callable[[Run], None],
    channel_layer: BaseChannelLayer,
) -> None:
    first, third = Gate(), Gate()
    fake.script(SEATS[0], [TextDelta(text="Before "), TextDelta(text="the stop."), first, *answer(" never")])
    # The second seat answers only once both others are held: their deltas are then queued
    # ahead of its own, so once its column is final theirs have been folded into the run.
    fake.script(SEATS[1], [first.reached, third.reached, *answer(SEAT_TEXTS[1])])
    fake.script(SEATS[2], [TextDelta(text="Gamma was "), third, *answer(" never")])
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    await receive_until(channel_layer, viewer, lambda m: bool(seat_final_frames([m], run, 1)))
    await request_stop(run.pk)
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert row.status == Run.Status.STOPPED
    assert row.stage == Run.Stage.PANEL  # stopped while the panel was answering
    assert re.fullmatch(r"Stopped by you after \d+\.\d s\.", row.note)
    assert row.note == f"Stopped by you after {formatting.seconds(row.duration_ms)}."
    assert [seat.status for seat in answers] == [
        SeatAnswer.Status.STOPPED,
        SeatAnswer.Status.DONE,
        SeatAnswer.Status.STOPPED,
    ]
    assert [seat.text for seat in answers] == ["Before the stop.", SEAT_TEXTS[1], "Gamma was "]
    # The run's totals are what the one call that finished reported.
    assert (row.prompt_tokens, row.completion_tokens) == (10, 20)
    assert row.cost == answers[1].cost
    assert sorted(fake.interrupted) == [SEATS[0], SEATS[2]]
    assert sorted(fake.closed) == sorted(SEATS)


async def test_stop_while_the_run_is_still_setting_up_ends_it_as_stopped(
    run: Run,
    fake: FakeModelClient,
    start: Callable[[Run], None],
    run_services: Callable[..., None],
) -> None:
    # The catalog is fetched over HTTP before any seat is asked: a Stop can land right then.
    fetching = Gate()

    async def slow_catalog(endpoints: object) -> dict[str, ModelInfo]:
        fetching.reached.set()
        await fetching.opened.wait()
        return {}

    run_services(catalog=slow_catalog)

    start(run)
    await fetching.reached.wait()
    await request_stop(run.pk)
    await wait_for_run(run.pk)

    row, _ = await saved(run)
    assert row.status == Run.Status.STOPPED
    assert fake.requests == []


# -- how often the database is written -----------------------------------------------------


class WriteCounter:
    """An execute wrapper that counts the INSERT, UPDATE and DELETE statements it sees."""

    def __init__(self) -> None:
        self.writes = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            self.writes += 1
        return execute(sql, params, many, context)


# runs.py does its ORM work through sync_to_async, which (with no async_to_sync around it, as
# here) runs every thread-sensitive call on one shared worker thread. Django's connections are
# per thread, so CaptureQueriesContext(connection) in the test's own thread would see none of
# it: the counter is installed on that worker thread's connection, through sync_to_async too.
@sync_to_async
def install(counter: WriteCounter) -> None:
    connection.execute_wrappers.append(counter)


@sync_to_async
def uninstall(counter: WriteCounter) -> None:
    connection.execute_wrappers.remove(counter)


async def writes_during_a_run(run: Run, deltas: int) -> int:
    fake = FakeModelClient()
    fake.script(SEATS[0], [*(TextDelta(text=f"w{i} ") for i in range(deltas)), *ending()])
    script_other_seats(fake)
    script_judge_and_writer(fake)
    counter = WriteCounter()
    await install(counter)
    try:
        dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=QUIET))
        await wait_for_run(run.pk)
    finally:
        await uninstall(counter)
    row, answers = await saved(run)
    assert row.status == Run.Status.DONE
    assert answers[0].text.count("w") == deltas  # every delta was folded in and saved
    return counter.writes


async def test_database_writes_do_not_grow_with_the_number_of_deltas(
    alice: User, make_run: Callable[..., Run]
) -> None:
    few = await writes_during_a_run(await sync_to_async(make_run)(alice), deltas=200)
    many = await writes_during_a_run(await sync_to_async(make_run)(alice), deltas=2000)

    assert few > 0  # the counter saw the run's own saves: it sits on the right connection
    assert many <= few + 2


# -- what viewers are sent -----------------------------------------------------------------


async def test_a_snapshot_is_published_when_the_run_starts(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    messages = await receive_until(channel_layer, viewer, is_final)
    await wait_for_run(run.pk)

    assert messages[0]["type"] == "run.snapshot"
    assert messages[0]["final"] is False
    assert f'id="run-{run.pk}"' in messages[0]["html"]


async def test_the_first_text_of_a_seat_is_framed_at_once(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    held = Gate()
    fake.script(SEATS[0], [TextDelta(text="Firstword "), held, *answer("and the rest.")])
    script_other_seats(fake)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    # The seat is held after its first delta and the frame clock would take ten seconds:
    # the frame can only come from the first delta being framed on its own.
    messages = await receive_until(channel_layer, viewer, lambda m: bool(text_frames([m], run, 0)))
    held.open()
    await wait_for_run(run.pk)

    [frame] = text_frames(messages, run, 0)
    assert "Firstword" in frame
    assert "rest" not in frame


async def test_the_first_reasoning_and_the_first_text_of_a_seat_are_each_framed_at_once(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    # A model that reasons before it answers: its reasoning is the first thing the reader sees.
    thought, answered = Gate(), Gate()
    steps = [ReasoningDelta(text="Thinking first. "), thought, ReasoningDelta(text="More thought. ")]
    steps += [TextDelta(text="Firstword "), answered, *answer("and the rest.")]
    fake.script(SEATS[0], steps)
    script_other_seats(fake)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))
    reasoning = f'id="run-{run.pk}-seat-0-reasoning" hx-swap-oob="beforeend"'

    start(run)
    # Held after each first delta while the frame clock would take ten seconds: each frame can
    # only come from that delta being framed on its own.
    before = await receive_until(channel_layer, viewer, lambda m: reasoning in m.get("html", ""))
    thought.open()
    after = await receive_until(channel_layer, viewer, lambda m: bool(text_frames([m], run, 0)))
    answered.open()
    await wait_for_run(run.pk)

    assert "Thinking first." in before[-1]["html"]
    assert "Firstword" not in before[-1]["html"]
    [frame] = text_frames(after, run, 0)
    assert "Firstword" in frame and "More thought." in frame
    assert "rest" not in frame


async def test_a_seats_text_is_framed_at_once_until_some_of_it_shows(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    # "##" alone renders an empty heading: the reader would see nothing until the next tick.
    held = Gate()
    fake.script(SEATS[0], [TextDelta(text="##"), TextDelta(text=" Plan"), held, *answer(" more.")])
    script_other_seats(fake)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    messages = await receive_until(
        channel_layer, viewer, lambda m: "Plan" in "".join(text_frames([m], run, 0))
    )
    held.open()
    await wait_for_run(run.pk)

    empty, shown = text_frames(messages, run, 0)
    assert "Plan" not in empty
    assert "Plan" in shown and "more" not in shown


async def test_a_seats_deltas_are_coalesced_into_few_frames(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    deltas = 300
    fake.script(SEATS[0], [*(TextDelta(text=f"w{i} ") for i in range(deltas)), *ending()])
    script_other_seats(fake)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    messages = await receive_until(channel_layer, viewer, is_final)
    await wait_for_run(run.pk)

    # The first delta is framed at once; the rest wait for the frame clock, which never ticks
    # here, and the seat's final frame carries them.
    assert len(text_frames(messages, run, 0)) == 1
    assert len(seat_final_frames(messages, run, 0)) == 1
    assert len(messages) < deltas / 10


async def test_a_seats_frames_carry_all_of_its_text(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    paragraphs = [" ".join(f"p{p}w{w}" for w in range(20)) for p in range(4)]
    fake.script(SEATS[0], answer("\n\n".join(paragraphs)))
    script_other_seats(fake)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    messages = await receive_until(channel_layer, viewer, is_final)
    await wait_for_run(run.pk)

    shown = "".join(text_frames(messages, run, 0) + seat_final_frames(messages, run, 0))
    words = [word for paragraph in paragraphs for word in paragraph.split()]
    assert [word for word in words if word not in shown] == []


async def test_the_end_of_a_run_is_published_as_a_final_snapshot(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    # A final snapshot, not a frame: a viewer still waiting for its first snapshot (it joined
    # as the run ended) drops frames, and would otherwise never see the end.
    script_seats(fake, *SEAT_TEXTS)
    script_judge_and_writer(fake)
    viewer = await listen(channel_layer, run_group(run.pk))

    start(run)
    messages = await receive_until(channel_layer, viewer, is_final)
    await wait_for_run(run.pk)

    assert 'data-status="done"' in messages[-1]["html"]
    assert FUSED_TEXT in messages[-1]["html"]


async def snapshot_for_a_late_joiner(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], layer: BaseChannelLayer
) -> Message:
    """The snapshot a viewer joining now gets: the first seat mid-answer, the second finished."""
    held = Gate()
    early = [TextDelta(text="Early text "), TextDelta(text="so far.")]
    fake.script(SEATS[0], [*early, held, *answer(" Later.")])
    # As in the Stop test: once the second seat's column is final, the first seat's deltas
    # (queued before the second seat began) have been folded into the run.
    fake.script(SEATS[1], [held.reached, *answer(SEAT_TEXTS[1])])
    fake.script(SEATS[2], answer(SEAT_TEXTS[2]))
    script_judge_and_writer(fake)
    viewer = await listen(layer, run_group(run.pk))

    start(run)
    await receive_until(layer, viewer, lambda m: bool(seat_final_frames([m], run, 1)))
    await layer.group_send(control_group(run.pk), {"type": "run.sync", "reply_to": viewer})
    messages = await receive_until(layer, viewer, lambda m: m["type"] == "run.snapshot")
    held.open()
    await wait_for_run(run.pk)
    assert messages[-1]["final"] is False
    return messages[-1]


async def test_a_late_joiner_gets_a_snapshot_with_the_text_so_far(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    snapshot = await snapshot_for_a_late_joiner(run, fake, start, channel_layer)

    # "so far." never had a frame of its own (the frame clock did not tick): the snapshot has it.
    assert "Early text so far." in snapshot["html"]


async def test_a_late_joiners_snapshot_shows_a_finished_seats_whole_answer(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None], channel_layer: BaseChannelLayer
) -> None:
    # Only the seat's first delta ever went through the streaming renderer (its final frame
    # carried the rest): the snapshot must show the saved text, not the streamed blocks.
    snapshot = await snapshot_for_a_late_joiner(run, fake, start, channel_layer)

    assert SEAT_TEXTS[1] in snapshot["html"]


async def test_a_run_whose_owner_has_an_unreadable_key_fails_closed_with_a_clear_note(
    run: Run, alice: User, start: Callable[[Run], None], settings: Any
) -> None:
    from chat.models import UserProviderKey

    def give_alice_a_key() -> None:
        key = UserProviderKey(user=alice, endpoint="simulated")
        key.set_api_key("sk-alice-own")
        key.save()

    await sync_to_async(give_alice_a_key)()
    settings.FUSIONROOM_DEMO = False  # her key is for a real endpoint, which demo mode replaces
    await sync_to_async(UserProviderKey.objects.filter(user=alice).update)(endpoint="openrouter")
    # The key that encrypted it is gone from the configuration.
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["6zLdj2wAp1V2b8j6Vdz1M8pTk0P2vQn3xq9GmZ5cR0s="]

    start(run)
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert row.status == Run.Status.FAILED and "can no longer be read" in row.note
    assert all(answer.status == SeatAnswer.Status.FAILED for answer in answers)


async def test_a_save_writes_each_answers_changes_without_touching_what_another_changed(run: Run) -> None:
    # One UPDATE writes the same columns for every row it touches, and no row is read first:
    # seat 1's text must not come with a default status, nor seat 0's status with a default text.
    answers = [answer async for answer in run.answers.order_by("index")]
    live = RunState(run, answers)
    live.apply(SeatStarted(seat=1, model=answers[1].model))
    live.apply(SeatDelta(seat=0, text="Light "))
    await sync_to_async(execution.save)(run.pk, *live.take_dirty())
    live.apply(SeatStarted(seat=0, model=answers[0].model))
    live.apply(SeatDelta(seat=1, text="Rayleigh scattering"))

    await sync_to_async(execution.save)(run.pk, *live.take_dirty())

    saved = {answer.index: answer async for answer in run.answers.all()}
    assert (saved[0].status, saved[0].text) == (SeatAnswer.Status.WRITING, "Light ")
    assert (saved[1].status, saved[1].text) == (SeatAnswer.Status.WRITING, "Rayleigh scattering")
    assert (saved[2].status, saved[2].text) == (SeatAnswer.Status.WAITING, "")  # untouched


# -- Auto-fuse: the writer answers, and consults the panel when it decides to -----------------


async def auto_fuse(run: Run) -> Run:
    run.auto_fuse, run.stage = True, Run.first_stage(True)
    await run.asave(update_fields=["auto_fuse", "stage"])
    return run


async def test_an_auto_fuse_run_that_consults_saves_the_query_the_panel_and_the_models_answer(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    query = "For a team of twelve, is a monorepo right?"
    call = ToolCallDelta(
        index=0, id="call_f", name=consult.FUSION_TOOL, arguments=json.dumps({"query": query})
    )
    fake.script(WRITER, [TextDelta(text="Let me ask the panel."), call, *ending()])
    script_seats(fake, *SEAT_TEXTS)
    fake.script(JUDGE, answer(analysis_json(), cost=CALL_COST))
    fake.script(WRITER, answer(FUSED_TEXT, cost=CALL_COST))

    start(await auto_fuse(run))
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert (row.status, row.consult_query) == (Run.Status.DONE, query)
    assert [answer.text for answer in answers] == list(SEAT_TEXTS)
    assert row.analysis is not None
    assert row.fused_text == f"Let me ask the panel.\n\n{FUSED_TEXT}"
    assert row.fused_html, "the model's answer is rendered once, like a fused answer"


async def test_an_auto_fuse_run_that_answers_alone_never_asks_or_ends_the_seats(
    run: Run, fake: FakeModelClient, start: Callable[[Run], None]
) -> None:
    fake.script(WRITER, answer("Hello to you too.", cost=CALL_COST))

    start(await auto_fuse(run))
    await wait_for_run(run.pk)

    row, answers = await saved(run)
    assert [request.model for request in fake.requests] == [WRITER]
    assert (row.status, row.consult_query, row.fused_text) == (Run.Status.DONE, None, "Hello to you too.")
    assert row.note == "", "the page says it beside the answer, not twice"
    assert {answer.status for answer in answers} == {SeatAnswer.Status.WAITING}
