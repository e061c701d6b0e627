"""A run keeps the rendered HTML of every final text, rendered once as it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer
from django.contrib.auth.models import User

from chat.models import Run, SeatAnswer
from chat.rendering import render_answer
from chat.runs import dispatch, services
from chat.runs.dispatch import request_stop, wait_for_run
from chat.runs.pacing import Pacing
from tests.fakes import JUDGE, SEATS, WRITER, FakeModelClient, analysis_json, answer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_catalog"),
]
QUIET = Pacing(flush_seconds=60, frame_seconds=10)


@pytest_asyncio.fixture
async def start(channel_layer: BaseChannelLayer) -> AsyncIterator[Callable[[Run, FakeModelClient], None]]:
    started: list[int] = []

    def start_run(run: Run, fake: FakeModelClient) -> None:
        dispatch.execute_here(run.pk, services.current().replace(client_for=lambda _: fake, pacing=QUIET))
        started.append(run.pk)

    yield start_run
    for run_id in started:
        await request_stop(run_id)
        await wait_for_run(run_id)


async def test_a_finished_run_keeps_every_answers_html_and_the_fused_html(
    alice: User, make_run: Callable[..., Run], start: Callable[[Run, FakeModelClient], None]
) -> None:
    run = await sync_to_async(make_run)(alice)
    fake = FakeModelClient()
    texts = ["**Alpha** says blue.", "- Beta\n- says\n", "```\ngamma\n```"]
    for model, text in zip(SEATS, texts, strict=True):
        fake.script(model, answer(text))
    fake.script(JUDGE, answer(analysis_json()))
    fake.script(WRITER, answer("The *fused* answer."))

    start(run, fake)
    await wait_for_run(run.pk)

    row = await Run.objects.aget(pk=run.pk)
    answers = [seat async for seat in SeatAnswer.objects.filter(run=row).order_by("index")]
    assert [seat.html for seat in answers] == [render_answer(text) for text in texts]
    assert row.fused_html == render_answer("The *fused* answer.")
