"""The answers' sources for Copy (owner, share link, nobody else), the turn a tab fetches, and renames."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat import sharing
from chat.models import Conversation, Run
from tests.sharing_data import FUSED, PROMPT, add_run, add_turn

pytestmark = pytest.mark.django_db

MARKDOWN = "## Plan\n\n1. **Rehearse** on a copy.\n\n```sql\nSELECT 1 < 2;\n```\n\nÜnïcode — done.\r\n"


@pytest.fixture
def run(alice: User) -> Run:
    conversation = Conversation.objects.create(owner=alice, title="Migration")
    return add_run(add_turn(conversation, 0, PROMPT), texts=[MARKDOWN, "two", "three"])


def source(run: Run, column: str | int) -> str:
    return f"/runs/{run.pk}/source/{column}/"


def shared_source(token: str, run: Run, column: str | int) -> str:
    return f"/s/{token}/runs/{run.pk}/source/{column}/"


# -- the owner's sources -----------------------------------------------------------------------


def test_a_seats_source_is_its_original_markdown_as_plain_text(as_alice: Client, run: Run) -> None:
    response = as_alice.get(source(run, 0))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == MARKDOWN


def test_the_fused_source_is_the_fused_markdown(as_alice: Client, run: Run) -> None:
    assert as_alice.get(source(run, "fused")).content.decode() == FUSED


def test_a_source_is_not_cached(as_alice: Client, run: Run) -> None:
    assert "no-store" in as_alice.get(source(run, 0))["Cache-Control"]


def test_another_users_source_is_missing(as_bob: Client, run: Run) -> None:
    assert as_bob.get(source(run, 0)).status_code == 404


def test_an_anonymous_visitor_gets_no_source(client: Client, run: Run) -> None:
    assert client.get(source(run, 0)).status_code == 404


@pytest.mark.parametrize("column", ["7", "judge", "-1"])
def test_a_column_that_does_not_exist_is_missing(as_alice: Client, run: Run, column: str) -> None:
    assert as_alice.get(source(run, column)).status_code == 404


def test_a_seat_still_writing_is_asked_again_later(as_alice: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice)
    running = add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)
    assert as_alice.get(source(running, 0)).status_code == 409
    assert as_alice.get(source(running, "fused")).status_code == 409


def test_a_source_only_answers_get(as_alice: Client, run: Run) -> None:
    assert as_alice.post(source(run, 0)).status_code == 405


# -- through a share link ------------------------------------------------------------------------


def test_a_share_link_gives_the_sources_of_its_runs(client: Client, run: Run) -> None:
    link = sharing.create_link(run.turn.conversation)
    response = client.get(shared_source(link.token, run, 0))
    assert response.status_code == 200
    assert response.content.decode() == MARKDOWN
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_a_share_link_gives_no_source_of_a_turn_added_after_it(client: Client, run: Run) -> None:
    link = sharing.create_link(run.turn.conversation)
    later = add_run(add_turn(run.turn.conversation, 1, "A follow-up"))
    assert client.get(shared_source(link.token, later, 0)).status_code == 404


def test_a_share_link_gives_no_source_of_another_conversation(client: Client, run: Run, alice: User) -> None:
    other = Conversation.objects.create(owner=alice, title="Private")
    private = add_run(add_turn(other, 0, "Secret"))
    link = sharing.create_link(run.turn.conversation)
    assert client.get(shared_source(link.token, private, 0)).status_code == 404


def test_a_revoked_link_gives_no_source(client: Client, run: Run) -> None:
    link = sharing.create_link(run.turn.conversation)
    sharing.revoke(link)
    assert client.get(shared_source(link.token, run, 0)).status_code == 404


def test_an_unknown_token_gives_no_source(client: Client, run: Run) -> None:
    assert client.get(shared_source(sharing.new_token(), run, 0)).status_code == 404


# -- the Copy buttons on the pages --------------------------------------------------------------


def test_a_finished_run_shows_copy_buttons_for_each_answer(as_alice: Client, run: Run) -> None:
    html = as_alice.get(run.turn.conversation.get_absolute_url()).content.decode()
    assert f'data-copy-url="{source(run, 0)}"' in html
    assert f'data-copy-url="{source(run, "fused")}"' in html


def test_a_running_run_shows_no_copy_button(as_alice: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice)
    add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)
    html = as_alice.get(conversation.get_absolute_url()).content.decode()
    assert "data-copy-url" not in html


def test_the_shared_page_copies_through_its_link(client: Client, run: Run) -> None:
    link = sharing.create_link(run.turn.conversation)
    html = client.get(link.get_absolute_url()).content.decode()
    assert f'data-copy-url="{shared_source(link.token, run, 0)}"' in html
    assert f'data-copy-url="{source(run, 0)}"' not in html


def test_the_share_link_has_a_copy_button(as_alice: Client, run: Run) -> None:
    link = sharing.create_link(run.turn.conversation)
    html = as_alice.get(run.turn.conversation.get_absolute_url()).content.decode()
    assert f'data-copy-from="share-link-{link.pk}"' in html


# -- the turn a page fetches --------------------------------------------------------------------


def test_a_turn_is_fetched_with_its_runs(as_alice: Client, run: Run) -> None:
    response = as_alice.get(f"/turns/{run.turn_id}/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<article class="turn" id="turn-{run.turn_id}">')
    assert f'id="run-{run.pk}"' in html


def test_another_users_turn_is_missing(as_bob: Client, run: Run) -> None:
    assert as_bob.get(f"/turns/{run.turn_id}/", headers={"HX-Request": "true"}).status_code == 404


def test_a_turn_asked_for_without_htmx_is_its_conversation(as_alice: Client, run: Run) -> None:
    response = as_alice.get(f"/turns/{run.turn_id}/")
    assert response.status_code == 302
    assert response["Location"] == run.turn.conversation.get_absolute_url()


# -- the title above the thread -----------------------------------------------------------------


def test_the_conversation_page_shows_its_title_as_a_heading(as_alice: Client, run: Run) -> None:
    html = as_alice.get(run.turn.conversation.get_absolute_url()).content.decode()
    pk = run.turn.conversation_id
    assert f'id="conversation-title" data-conversation="{pk}">Migration</h1>' in html


def test_a_rename_from_the_heading_answers_with_the_heading_and_the_event(as_alice: Client, run: Run) -> None:
    conversation = run.turn.conversation
    response = as_alice.post(
        f"/c/{conversation.pk}/rename/",
        {"title": "Rollback plan", "place": "heading"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="conversation-head"' in html and ">Rollback plan</h1>" in html
    assert json.loads(response["HX-Trigger"]) == {
        "conversationRenamed": {"id": conversation.pk, "title": "Rollback plan"}
    }


def test_a_rename_from_the_sidebar_tells_the_page_too(as_alice: Client, run: Run) -> None:
    conversation = run.turn.conversation
    response = as_alice.post(
        f"/c/{conversation.pk}/rename/", {"title": "Sidebar"}, headers={"HX-Request": "true"}
    )
    assert f'id="conversation-{conversation.pk}"' in response.content.decode()
    assert json.loads(response["HX-Trigger"])["conversationRenamed"]["title"] == "Sidebar"


def test_an_empty_title_from_the_heading_is_refused_there(as_alice: Client, run: Run) -> None:
    conversation = run.turn.conversation
    response = as_alice.post(
        f"/c/{conversation.pk}/rename/", {"title": "  ", "place": "heading"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert 'id="conversation-title-error"' in response.content.decode()
    assert "HX-Trigger" not in response
    conversation.refresh_from_db()
    assert conversation.title == "Migration"


def test_a_rename_from_the_heading_without_javascript_goes_back_to_the_conversation(
    as_alice: Client, run: Run
) -> None:
    conversation = run.turn.conversation
    response = as_alice.post(f"/c/{conversation.pk}/rename/", {"title": "Plain form", "place": "heading"})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Plain form"
