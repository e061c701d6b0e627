"""What one arrival costs the database: a first send, and the page it opens (issue 22, point 2).

Twenty sends in the same instant queue behind each other's work on the one database thread, so
the queries of the send and of its page are counted here: a test fails when either grows, or
when the page's count grows with the sidebar's length. Speed itself is bench/'s (row 13).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import clear_script_prefix, reverse, set_script_prefix

from chat.history import PAGE_SIZE
from chat.models import Conversation, Panel, Run
from chat.runs.creation import create_turn_and_run

# The session and the user; the conversation; its turns, their runs and answers (3); the running
# run and the last run (the composer's Stop and default panel); the panels, once (the picker and
# the defaults: chat.views.chat._chat_context); the sidebar's page (one query, the API tag a
# subquery); the share links; the spend summary.
PAGE_QUERIES = 12
# The session and the user; whether a spend budget is set; the form's panel; then one transaction
# (chat.runs.lifecycle.open_run): BEGIN, the user's starts held, the running and recent runs
# counted, the budgets, the conversation, turn, run and answers inserted, COMMIT; then what the
# run is handed (the endpoints and keys, the answers as saved).
SEND_QUERIES = 18


@pytest.fixture(autouse=True)
def started_runs(run_services: Callable[..., None]) -> list[int]:
    """Runs the view asked to start; nothing actually runs."""
    started: list[int] = []
    run_services(dispatch=lambda run_id, *args: started.append(run_id))
    return started


def conversations(owner: User, panel: Panel, count: int) -> list[Conversation]:
    """`count` conversations of one turn each, the newest with its run still going."""
    made = []
    for i in range(count):
        conversation = Conversation.objects.create(owner=owner, title=f"Conversation number {i}")
        create_turn_and_run(conversation, f"Question {i}?", panel, simulated=True)
        made.append(conversation)
    return made


def page_queries(client: Client, conversation: Conversation) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(conversation.get_absolute_url())
    assert response.status_code == 200
    return len(captured)


def test_the_page_of_a_new_conversation_makes_a_fixed_number_of_queries(
    as_alice: Client, alice: User, presets: dict[str, Panel]
) -> None:
    newest = conversations(alice, presets["Budget"], 2)[-1]
    assert Run.objects.filter(turn__conversation=newest).active().exists()

    assert page_queries(as_alice, newest) == PAGE_QUERIES


def test_the_pages_queries_do_not_grow_with_the_sidebar(
    as_alice: Client, alice: User, presets: dict[str, Panel]
) -> None:
    made = conversations(alice, presets["Budget"], PAGE_SIZE + 1)

    assert page_queries(as_alice, made[-1]) == PAGE_QUERIES


def test_the_sidebars_links_are_the_ones_reverse_gives(
    as_alice: Client, alice: User, presets: dict[str, Panel]
) -> None:
    made = conversations(alice, presets["Budget"], 3)

    page = as_alice.get(made[0].get_absolute_url()).content.decode()

    for conversation in made:
        pk = conversation.pk
        (item,) = re.findall(rf'<li class="conversation" id="conversation-{pk}">.*?</li>', page, re.DOTALL)
        assert f'href="{reverse("conversation", args=[pk])}"' in item
        assert item.count(f'"{reverse("conversation_rename", args=[pk])}"') == 2
        assert item.count(f'"{reverse("conversation_delete", args=[pk])}"') == 2


def test_the_sidebars_links_keep_the_script_prefix(
    as_alice: Client, alice: User, presets: dict[str, Panel]
) -> None:
    made = conversations(alice, presets["Budget"], 1)
    as_alice.get(made[0].get_absolute_url())  # the routes as they are without a prefix

    # Served under /fusion (a proxy's path): the server's handler sets the prefix reverse() uses
    # for each request (the test client's does not).
    set_script_prefix("/fusion/")
    try:
        page = as_alice.get(f"/c/{made[0].pk}/").content.decode()
    finally:
        clear_script_prefix()

    assert f'class="conversation-link" dir="auto" href="/fusion/c/{made[0].pk}/"' in page
    assert f'<form method="post" action="/fusion/c/{made[0].pk}/rename/" class="rename"' in page


def test_a_first_send_makes_a_fixed_number_of_queries(
    as_alice: Client, alice: User, presets: dict[str, Panel], started_runs: list[int]
) -> None:
    conversations(alice, presets["Budget"], 2)
    Run.objects.update(status=Run.Status.DONE)

    with CaptureQueriesContext(connection) as captured:
        response = as_alice.post(
            "/send/",
            {"message": "Plan a migration", "panel": presets["Budget"].pk},
            headers={"HX-Request": "true"},
        )

    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/c/")
    assert len(started_runs) == 1
    assert len(captured) == SEND_QUERIES
