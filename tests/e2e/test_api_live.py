"""A run started over the API, watched live in the chatroom by its owner while it streams."""

from __future__ import annotations

import openai
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from chat.models import ApiToken, Run
from chat.simulator import SimulatorThread

from .conftest import sign_up
from .test_chatroom import BUDGET, answer_of, column, expect_finished, hold_every_seat_mid_answer


def test_an_api_run_streams_live_in_its_owners_chatroom(page: Page, app: str, sim: SimulatorThread) -> None:
    sign_up(page, app)
    _, secret = ApiToken.objects.issue(User.objects.get(username="alice"), "laptop")
    hold_every_seat_mid_answer(sim)
    client = openai.OpenAI(base_url=f"{app}/v1", api_key=secret, max_retries=0, timeout=60)
    stream = iter(
        client.chat.completions.create(
            model="fusion/budget", messages=[{"role": "user", "content": "Why is the sky blue?"}], stream=True
        )
    )
    run_id = int(next(stream).id.rsplit("-", 1)[1])  # chatcmpl-fusion-<run id>, sent at once

    page.goto(app + Run.objects.get(pk=run_id).turn.conversation.get_absolute_url())
    for model in BUDGET:
        expect(answer_of(page, model)).not_to_be_empty()
        expect(column(page, model)).to_contain_text("Writing")
    sim.release()
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    expect_finished(page)  # the final snapshot comes once the run is saved
    assert streamed and Run.objects.get(pk=run_id).fused_text == streamed
