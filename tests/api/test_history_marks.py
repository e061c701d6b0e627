"""Runs started over the API are marked with their token's name: on the run, and in the sidebar."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ApiToken, Run, ShareLink
from chat.runs.creation import create_turn_and_run

pytestmark = pytest.mark.django_db

TAG = "API · laptop"


@pytest.fixture
def api_run(alice, make_run) -> Run:
    token, _ = ApiToken.objects.issue(alice, "laptop")
    run = make_run(alice, "Asked from a script")
    Run.objects.filter(pk=run.pk).update(api_token=token, status=Run.Status.DONE)
    run.refresh_from_db()
    return run


def page_of(client, run: Run) -> str:
    return client.get(f"/c/{run.turn.conversation_id}/").content.decode()


def test_the_run_is_marked_with_the_tokens_name(as_alice, api_run):
    page = page_of(as_alice, api_run)
    thread = page[page.index(f'id="turn-{api_run.turn_id}"') :]
    assert TAG in thread


def test_a_run_started_in_the_chatroom_has_no_mark(as_alice, alice, make_run):
    run = make_run(alice)
    assert "API ·" not in page_of(as_alice, run)


def test_the_sidebar_marks_the_conversation(as_alice, alice, api_run, make_run):
    other = make_run(alice, "Asked in the chatroom")
    page = page_of(as_alice, other)
    item = page[page.index(f'id="conversation-{api_run.turn.conversation_id}"') :]
    assert TAG in item[: item.index("</li>")]
    plain = page[page.index(f'id="conversation-{other.turn.conversation_id}"') :]
    assert "API ·" not in plain[: plain.index("</li>")]


def test_a_renamed_conversation_keeps_its_mark(as_alice, api_run):
    response = as_alice.post(
        f"/c/{api_run.turn.conversation_id}/rename/", {"title": "Script"}, headers={"HX-Request": "true"}
    )
    assert TAG in response.content.decode()


def test_a_shared_conversation_does_not_show_the_tokens_name(client, api_run):
    link = ShareLink.objects.create(conversation=api_run.turn.conversation, token="t" * 43, upto_position=0)
    page = client.get(f"/s/{link.token}/").content.decode()
    assert "Asked from a script" in page and "laptop" not in page


def test_marking_runs_costs_no_query_per_run(as_alice, alice, api_run):
    conversation = api_run.turn.conversation
    with CaptureQueriesContext(connection) as one:
        page_of(as_alice, api_run)
    for position in range(1, 4):
        run = create_turn_and_run(conversation, f"Turn {position}", api_run.panel, simulated=False)
        Run.objects.filter(pk=run.pk).update(api_token=api_run.api_token, status=Run.Status.DONE)
    with CaptureQueriesContext(connection) as four:
        page = page_of(as_alice, api_run)
    assert page.count(TAG) == 4 + 1  # four runs, and the sidebar
    assert len(four.captured_queries) == len(one.captured_queries)
