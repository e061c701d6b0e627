"""History: the sidebar's list, search and pages, renaming and deleting conversations, and spend."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext

from chat import history
from chat.history import PAGE_SIZE, Cursor, conversation_spend, history_page
from chat.models import Conversation, Panel, Run, SeatAnswer, ShareLink, Turn
from chat.runs.creation import create_turn_and_run
from tests.conftest import signed_in_client
from tests.html import elements, text

# -- reading pages ----------------------------------------------------------------------------


def listed(response: Any) -> list[int]:
    """The conversations a sidebar (or a part of one) lists, in order."""
    return [int(pk) for pk in re.findall(r'id="conversation-(\d+)"', response.content.decode())]


def load_more_url(response: Any) -> str | None:
    found = re.search(r'<li class="load-more">\s*<a href="[^"]*" hx-get="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def spend_rows(response: Any) -> list[str]:
    root = parse_html(response.content.decode())
    (table,) = [el for el in elements(root) if ("class", "spend-table") in el.attributes]
    return [text(row) for row in elements(table) if row.name == "tr"][1:]  # without the header


# -- who is who -------------------------------------------------------------------------------


def htmx(page: str = "/") -> dict[str, str]:
    """The headers htmx sends from a page of the test server."""
    return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}


@pytest.fixture
def ask(presets: dict[str, Panel]) -> Any:
    """A conversation of `owner` with one turn per prompt, asked of the Quality preset."""

    def ask(owner: User, *prompts: str) -> Conversation:
        conversation = Conversation.objects.create(owner=owner)
        for prompt in prompts:
            create_turn_and_run(conversation, prompt, presets["Quality"], simulated=True)
        conversation.refresh_from_db()
        return conversation

    return ask


@pytest.fixture
def stop_requests(run_services: Callable[..., None]) -> list[int]:
    requested: list[int] = []

    async def request_stop(run_id: int) -> None:
        requested.append(run_id)

    run_services(request_stop=request_stop)
    return requested


def many_conversations(owner: User, count: int) -> list[int]:
    """`count` conversations, three to a timestamp (ties the pk must break); pks newest first."""
    Conversation.objects.bulk_create(
        Conversation(owner=owner, title=f"Conversation number {i}") for i in range(count)
    )
    rows = list(Conversation.objects.filter(owner=owner).order_by("pk"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i, row in enumerate(rows):
        row.updated_at = start + timedelta(seconds=i // 3, microseconds=7)
    Conversation.objects.bulk_update(rows, ["updated_at"], batch_size=500)
    return [row.pk for row in sorted(rows, key=lambda row: (row.updated_at, row.pk), reverse=True)]


# -- the list ---------------------------------------------------------------------------------


def test_the_sidebar_lists_alices_conversations_newest_first(as_alice: Client, alice: User, ask: Any) -> None:
    older = ask(alice, "Which database for a small team?")
    newer = ask(alice, "How do I plan a migration?")

    assert listed(as_alice.get("/")) == [newer.pk, older.pk]


def test_asking_again_moves_a_conversation_to_the_top(
    as_alice: Client, alice: User, ask: Any, presets: dict[str, Panel]
) -> None:
    older = ask(alice, "Which database for a small team?")
    newer = ask(alice, "How do I plan a migration?")

    create_turn_and_run(older, "And for a large one?", presets["Quality"], simulated=True)

    assert listed(as_alice.get("/")) == [older.pk, newer.pk]


def test_the_sidebar_marks_the_conversation_being_read(as_alice: Client, alice: User, ask: Any) -> None:
    conversation = ask(alice, "Which database for a small team?")

    page = as_alice.get(f"/c/{conversation.pk}/").content.decode()

    assert f'href="/c/{conversation.pk}/" aria-current="page"' in page


def test_alice_never_sees_bobs_conversations_in_her_sidebar(
    as_alice: Client, alice: User, bob: User, ask: Any
) -> None:
    hers = ask(alice, "Which database for a small team?")
    ask(bob, "Which database for a small team?")

    assert listed(as_alice.get("/")) == [hers.pk]
    assert listed(as_alice.get("/conversations/?q=database", headers=htmx())) == [hers.pk]


def test_the_sidebar_shows_fifty_conversations_then_a_load_more_link_loaded_when_revealed(
    as_alice: Client, alice: User
) -> None:
    newest_first = many_conversations(alice, PAGE_SIZE + 5)

    response = as_alice.get("/")

    assert listed(response) == newest_first[:PAGE_SIZE]
    page = response.content.decode()
    (load_more,) = re.findall(r'<li class="load-more">.*?</li>', page, re.S)
    assert 'hx-trigger="click, revealed, intersect once"' in load_more
    assert f"before={Cursor.after(Conversation.objects.get(pk=newest_first[PAGE_SIZE - 1]))}" in load_more
    assert ">Load more</a>" in load_more


def test_the_last_page_has_no_load_more_link(as_alice: Client, alice: User) -> None:
    many_conversations(alice, PAGE_SIZE)

    assert load_more_url(as_alice.get("/")) is None


def test_a_page_of_history_is_one_query(alice: User, django_assert_num_queries: Any) -> None:
    newest_first = many_conversations(alice, 120)
    first = history_page(alice)

    with django_assert_num_queries(1):
        later = history_page(alice, before=first.next_cursor)
        [str(conversation) for conversation in later.conversations]
        [conversation.get_absolute_url() for conversation in later.conversations]

    assert [c.pk for c in later.conversations] == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]


def test_three_thousand_conversations_page_in_bounded_queries_each_listed_once_newest_first(
    as_alice: Client, alice: User, django_assert_max_num_queries: Any
) -> None:
    newest_first = many_conversations(alice, 3000)
    seen: list[int] = []
    url: str | None = "/conversations/"
    pages = 0
    while url is not None:
        # The session, the user, and the page: the thirtieth page costs what the first does.
        with django_assert_max_num_queries(3):
            response = as_alice.get(url, headers=htmx())
        assert response.status_code == 200
        seen += listed(response)
        url = load_more_url(response)
        pages += 1

    assert pages == 3000 // PAGE_SIZE
    assert seen == newest_first
    assert len(set(seen)) == 3000


def test_the_chat_page_with_three_thousand_conversations_takes_a_bounded_number_of_queries(
    as_alice: Client, alice: User, presets: dict[str, Panel], django_assert_max_num_queries: Any
) -> None:
    newest_first = many_conversations(alice, 3000)

    with django_assert_max_num_queries(8):
        response = as_alice.get("/")

    assert listed(response) == newest_first[:PAGE_SIZE]


def test_a_later_page_seeks_in_the_owner_updated_at_index_instead_of_scanning_from_the_top(
    alice: User,
) -> None:
    many_conversations(alice, 120)
    cursor = history_page(alice).next_cursor
    with CaptureQueriesContext(connection) as captured:
        history_page(alice, before=cursor)
    (query,) = captured.captured_queries

    assert '"updated_at" <= ' in query["sql"]  # a range the index can seek, not only an OR
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor_:
            plan = " ".join(str(row) for row in cursor_.execute(f"EXPLAIN QUERY PLAN {query['sql']}"))
        assert "USING INDEX chat_conver_owner_i_77b144_idx (owner_id=? AND updated_at<?)" in plan


def test_a_later_page_loaded_by_htmx_is_just_its_items_and_the_next_load_more(
    as_alice: Client, alice: User
) -> None:
    newest_first = many_conversations(alice, 2 * PAGE_SIZE + 1)
    first = as_alice.get("/conversations/", headers=htmx())

    second = as_alice.get(load_more_url(first) or "", headers=htmx())

    assert listed(second) == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]
    assert not second.content.decode().lstrip().startswith("<ul")
    assert load_more_url(second) is not None


def test_without_javascript_load_more_is_a_link_to_the_next_page_of_the_chat_page(
    as_alice: Client, alice: User
) -> None:
    newest_first = many_conversations(alice, PAGE_SIZE + 5)
    cursor = Cursor.after(Conversation.objects.get(pk=newest_first[PAGE_SIZE - 1]))

    response = as_alice.get(f"/?before={cursor}")

    assert listed(response) == newest_first[PAGE_SIZE:]
    assert "Newest conversations" in response.content.decode()


def test_the_sidebars_links_go_to_the_chat_page_even_on_a_refused_send(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")
    many_conversations(alice, PAGE_SIZE)

    response = as_alice.post(f"/c/{conversation.pk}/send/", {"message": "", "panel": ""})

    assert response.status_code == 422
    page = response.content.decode()
    assert f'method="get" action="/c/{conversation.pk}/"' in page
    assert re.search(rf'<li class="load-more">\s*<a href="/c/{conversation.pk}/\?before=', page)


def test_a_mangled_cursor_is_refused_by_htmx_and_ignored_by_the_page(as_alice: Client, alice: User) -> None:
    newest_first = many_conversations(alice, 3)

    assert as_alice.get("/conversations/?before=yesterday", headers=htmx()).status_code == 400
    assert as_alice.get("/conversations/?before=99999999999999999999-1", headers=htmx()).status_code == 400
    assert listed(as_alice.get("/?before=yesterday")) == newest_first


def test_the_list_without_htmx_sends_the_browser_to_the_chat_page(as_alice: Client, db: None) -> None:
    response = as_alice.get("/conversations/?q=sky")

    assert response.status_code == 302
    assert response.url == "/?q=sky"


def test_a_cursor_is_written_and_read_back_exactly() -> None:
    cursor = Cursor(datetime(2026, 11, 24, 1, 40, 3, 123456, tzinfo=UTC), 42)

    assert str(cursor) == "1795484403123456-42"
    assert Cursor.parse(str(cursor)) == cursor


# -- search -----------------------------------------------------------------------------------


def test_search_has_a_box_named_search_conversations_that_works_without_javascript(
    as_alice: Client, alice: User, ask: Any
) -> None:
    page = as_alice.get("/").content.decode()

    assert '<label class="sr-only" for="conversation-search">Search conversations</label>' in page
    form = re.search(r'<form class="history-search"[^>]*>', page)
    assert form is not None
    assert 'method="get" action="/"' in form.group(0)
    assert 'hx-trigger="submit, input changed delay:300ms"' in form.group(0)


def test_search_matches_titles_in_any_case(as_alice: Client, alice: User, ask: Any) -> None:
    postgres = ask(alice, "Is PostgreSQL right for us?")
    ask(alice, "How do I plan a migration?")

    assert listed(as_alice.get("/conversations/?q=postgresql", headers=htmx())) == [postgres.pk]


def test_search_matches_the_prompt_of_a_later_turn(as_alice: Client, alice: User, ask: Any) -> None:
    followed_up = ask(alice, "Which database for a small team?", "What about SQLite with Litestream?")
    ask(alice, "How do I plan a migration?")

    assert listed(as_alice.get("/conversations/?q=litestream", headers=htmx())) == [followed_up.pk]


def test_a_conversation_with_several_matching_prompts_is_listed_once(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Tell me about caching", "More about caching", "Caching, once more")

    assert listed(as_alice.get("/conversations/?q=caching", headers=htmx())) == [conversation.pk]


def test_search_without_javascript_filters_the_sidebar_of_the_chat_page(
    as_alice: Client, alice: User, ask: Any
) -> None:
    postgres = ask(alice, "Is PostgreSQL right for us?")
    ask(alice, "How do I plan a migration?")

    response = as_alice.get("/?q=PostgreSQL")

    assert listed(response) == [postgres.pk]
    assert 'name="q" value="PostgreSQL"' in response.content.decode()


def test_bob_searching_for_alices_words_finds_nothing(as_bob: Client, alice: User, ask: Any) -> None:
    ask(alice, "Is PostgreSQL right for us?")

    response = as_bob.get("/conversations/?q=postgresql", headers=htmx())

    assert listed(response) == []
    assert "No conversation matches “postgresql”." in response.content.decode()


def test_search_treats_percent_and_underscore_as_plain_characters(
    as_alice: Client, alice: User, ask: Any
) -> None:
    percent = ask(alice, "Is 100% uptime possible?")
    ask(alice, "Is 1000 uptime possible?")
    ask(alice, "What is snake case?")

    assert listed(as_alice.get("/conversations/?q=100%25", headers=htmx())) == [percent.pk]
    assert listed(as_alice.get("/conversations/?q=_", headers=htmx())) == []


def test_the_pages_of_a_search_keep_the_search(as_alice: Client, alice: User) -> None:
    newest_first = many_conversations(alice, PAGE_SIZE + 10)
    Conversation.objects.filter(pk__in=newest_first[:5]).update(title="Unrelated")
    first = as_alice.get("/conversations/?q=number", headers=htmx())

    url = load_more_url(first)
    assert url is not None and "q=number" in url
    second = as_alice.get(url, headers=htmx())

    assert listed(first) + listed(second) == newest_first[5:]


def test_a_search_is_one_query(alice: User, ask: Any, django_assert_num_queries: Any) -> None:
    for number in range(5):
        ask(alice, f"Question {number}", "A follow-up about caching")

    with django_assert_num_queries(1):
        page = history_page(alice, query="caching")

    assert len(page.conversations) == 5


# -- rename -----------------------------------------------------------------------------------


def test_alice_renames_her_conversation_with_htmx_and_gets_its_sidebar_item_back(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.post(
        f"/c/{conversation.pk}/rename/", {"title": "Database choice"}, headers=htmx(f"/c/{conversation.pk}/")
    )

    conversation.refresh_from_db()
    assert conversation.title == "Database choice"
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li class="conversation" id="conversation-{conversation.pk}">')
    assert 'aria-current="page">Database choice</a>' in body


def test_without_javascript_a_rename_redirects_to_the_conversation_and_says_so(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.post(f"/c/{conversation.pk}/rename/", {"title": "Database choice"}, follow=True)

    assert response.redirect_chain == [(f"/c/{conversation.pk}/", 302)]
    assert "Renamed to “Database choice”." in response.content.decode()
    assert "<title>Database choice · FusionRoom</title>" in response.content.decode()


def test_a_new_title_is_trimmed_and_its_inner_whitespace_collapsed(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    as_alice.post(f"/c/{conversation.pk}/rename/", {"title": "  Database \n  choice "}, headers=htmx())

    conversation.refresh_from_db()
    assert conversation.title == "Database choice"


def test_a_title_of_two_hundred_characters_is_accepted(as_alice: Client, alice: User, ask: Any) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.post(f"/c/{conversation.pk}/rename/", {"title": "x" * 200}, headers=htmx())

    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.title == "x" * 200


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "A title needs at least one character."),
        ("   \n ", "A title needs at least one character."),
        ("x" * 201, "A title can have at most 200 characters (this one has 201)."),
    ],
)
def test_a_title_that_is_empty_or_too_long_is_refused_with_a_message(
    as_alice: Client, alice: User, ask: Any, title: str, message: str
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.post(f"/c/{conversation.pk}/rename/", {"title": title}, headers=htmx())

    assert response.status_code == 422
    assert message in response.content.decode()
    assert '<details class="item-actions" open>' in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).title == "Which database for a small team?"


def test_without_javascript_a_refused_title_comes_back_as_a_message(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.post(f"/c/{conversation.pk}/rename/", {"title": " "}, follow=True)

    assert "A title needs at least one character." in response.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).title == "Which database for a small team?"


def test_renaming_does_not_move_a_conversation_up_the_list(as_alice: Client, alice: User, ask: Any) -> None:
    older = ask(alice, "Which database for a small team?")
    newer = ask(alice, "How do I plan a migration?")

    as_alice.post(f"/c/{older.pk}/rename/", {"title": "Database choice"}, headers=htmx())

    assert Conversation.objects.get(pk=older.pk).updated_at == older.updated_at
    assert listed(as_alice.get("/")) == [newer.pk, older.pk]


def test_bob_gets_404_renaming_alices_conversation(as_bob: Client, alice: User, ask: Any) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_bob.post(f"/c/{conversation.pk}/rename/", {"title": "Mine now"})

    assert response.status_code == 404
    assert Conversation.objects.get(pk=conversation.pk).title == "Which database for a small team?"


def test_a_rename_needs_the_csrf_token(alice: User, ask: Any) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = signed_in_client(alice, enforce_csrf_checks=True).post(
        f"/c/{conversation.pk}/rename/", {"title": "Database choice"}
    )

    assert response.status_code == 403
    assert Conversation.objects.get(pk=conversation.pk).title == "Which database for a small team?"


# -- delete -----------------------------------------------------------------------------------


@pytest.fixture
def full_conversation(alice: User, ask: Any) -> Conversation:
    """Two turns, the first with an alternative run; seats' answers; an active and a revoked link."""
    conversation = ask(alice, "Which database for a small team?", "And for a large one?")
    first = conversation.turns.get(position=0)
    run = first.runs.get()
    alternative = Run.objects.create(turn=first, judge=run.judge, writer=run.writer, retry_of=run)
    SeatAnswer.objects.create(run=alternative, index=0, model="openai/gpt-5.5", text="An answer")
    ShareLink.objects.create(conversation=conversation, token="a" * 43, upto_position=1)
    ShareLink.objects.create(
        conversation=conversation, token="b" * 43, upto_position=0, revoked_at=datetime.now(UTC)
    )
    return conversation


def rows_of(conversation_pk: int) -> dict[str, int]:
    return {
        "conversations": Conversation.objects.filter(pk=conversation_pk).count(),
        "turns": Turn.objects.filter(conversation_id=conversation_pk).count(),
        "runs": Run.objects.filter(turn__conversation_id=conversation_pk).count(),
        "answers": SeatAnswer.objects.filter(run__turn__conversation_id=conversation_pk).count(),
        "share links": ShareLink.objects.filter(conversation_id=conversation_pk).count(),
    }


def test_deleting_removes_the_conversation_with_its_turns_runs_answers_and_share_links(
    as_alice: Client, full_conversation: Conversation
) -> None:
    pk = full_conversation.pk
    assert rows_of(pk) == {"conversations": 1, "turns": 2, "runs": 3, "answers": 7, "share links": 2}

    response = as_alice.post(f"/c/{pk}/delete/")

    assert response.status_code == 302
    assert rows_of(pk) == {"conversations": 0, "turns": 0, "runs": 0, "answers": 0, "share links": 0}


def test_deleting_leaves_alices_other_conversations_and_bobs_alone(
    as_alice: Client, alice: User, bob: User, ask: Any, full_conversation: Conversation
) -> None:
    other = ask(alice, "How do I plan a migration?")
    bobs = ask(bob, "Which database for a small team?")

    as_alice.post(f"/c/{full_conversation.pk}/delete/")

    assert rows_of(other.pk)["answers"] == 3
    assert rows_of(bobs.pk)["answers"] == 3


def test_the_delete_link_asks_with_hx_confirm_and_without_javascript_goes_to_a_confirmation_page(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    page = as_alice.get("/").content.decode()

    (link,) = re.findall(r'<a class="delete"[^>]*>', page)
    assert f'href="/c/{conversation.pk}/delete/"' in link
    assert f'hx-post="/c/{conversation.pk}/delete/"' in link
    assert 'hx-confirm="Delete “Which database for a small team?”?' in link


def test_the_confirmation_page_deletes_nothing_and_offers_a_post_form(
    as_alice: Client, full_conversation: Conversation
) -> None:
    pk = full_conversation.pk

    response = as_alice.get(f"/c/{pk}/delete/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete “Which database for a small team?”?" in page
    assert f'<form method="post" action="/c/{pk}/delete/"' in page
    assert "csrfmiddlewaretoken" in page
    assert rows_of(pk)["answers"] == 7


def test_without_javascript_deleting_goes_home_and_says_so(
    as_alice: Client, full_conversation: Conversation
) -> None:
    response = as_alice.post(f"/c/{full_conversation.pk}/delete/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "Deleted “Which database for a small team?”." in response.content.decode()


def test_deleting_with_htmx_from_another_page_swaps_the_item_for_nothing(
    as_alice: Client, alice: User, ask: Any, full_conversation: Conversation
) -> None:
    other = ask(alice, "How do I plan a migration?")

    response = as_alice.post(f"/c/{full_conversation.pk}/delete/", headers=htmx(f"/c/{other.pk}/"))

    assert response.status_code == 200
    assert response.content == b""
    assert "HX-Redirect" not in response


def test_deleting_the_conversation_being_read_sends_the_browser_home(
    as_alice: Client, full_conversation: Conversation
) -> None:
    pk = full_conversation.pk

    response = as_alice.post(f"/c/{pk}/delete/", headers=htmx(f"/c/{pk}/"))

    assert response["HX-Redirect"] == "/"
    assert rows_of(pk)["conversations"] == 0


def test_deleting_a_conversation_stops_its_running_runs(
    as_alice: Client, full_conversation: Conversation, stop_requests: list[int]
) -> None:
    running = list(
        Run.objects.filter(turn__conversation=full_conversation, status=Run.Status.RUNNING).values_list(
            "pk", flat=True
        )
    )
    assert running

    as_alice.post(f"/c/{full_conversation.pk}/delete/")

    assert sorted(stop_requests) == sorted(running)


@pytest.mark.parametrize("method", ["get", "post"])
def test_bob_gets_404_deleting_alices_conversation(
    as_bob: Client, full_conversation: Conversation, method: str
) -> None:
    response = getattr(as_bob, method)(f"/c/{full_conversation.pk}/delete/")

    assert response.status_code == 404
    assert rows_of(full_conversation.pk)["answers"] == 7


def test_a_delete_needs_the_csrf_token(alice: User, full_conversation: Conversation) -> None:
    response = signed_in_client(alice, enforce_csrf_checks=True).post(f"/c/{full_conversation.pk}/delete/")

    assert response.status_code == 403
    assert rows_of(full_conversation.pk)["conversations"] == 1


# -- who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/conversations/"),
        ("get", "/c/{pk}/delete/"),
        ("post", "/c/{pk}/delete/"),
        ("post", "/c/{pk}/rename/"),
        ("get", "/c/{pk}/spend/"),
    ],
)
def test_an_anonymous_visitor_is_sent_to_sign_in_and_nothing_changes(
    client: Client, full_conversation: Conversation, method: str, path: str
) -> None:
    response = getattr(client, method)(path.format(pk=full_conversation.pk), {"title": "Stolen"})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert rows_of(full_conversation.pk)["answers"] == 7
    assert Conversation.objects.get(pk=full_conversation.pk).title == "Which database for a small team?"


def test_a_get_on_rename_is_refused_and_changes_nothing(as_alice: Client, alice: User, ask: Any) -> None:
    conversation = ask(alice, "Which database for a small team?")

    response = as_alice.get(f"/c/{conversation.pk}/rename/", {"title": "Changed"})

    assert response.status_code == 405
    assert Conversation.objects.get(pk=conversation.pk).title == "Which database for a small team?"


# -- spend ------------------------------------------------------------------------------------


def spent(run: Run, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.DONE, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost
    )


@pytest.fixture
def priced_conversation(alice: User, ask: Any) -> Conversation:
    """Turn 1: a run and a re-run of it (an alternative); turn 2: a run whose cost nobody reported."""
    conversation = ask(alice, "Which database for a small team?", "And for a large one?")
    first, second = conversation.turns.order_by("position")
    run = first.runs.get()
    spent(run, 1000, 500, 0.0125)
    alternative = Run.objects.create(turn=first, judge=run.judge, writer=run.writer, retry_of=run)
    spent(alternative, 2000, 1000, 0.025)
    spent(second.runs.get(), 300, 200, None)
    return conversation


def test_spend_sums_each_turns_runs_alternatives_included(
    as_alice: Client, priced_conversation: Conversation
) -> None:
    response = as_alice.get(f"/c/{priced_conversation.pk}/")

    assert spend_rows(response) == [
        "1. Which database for a small team? 2 3,000 1,500 4,500 $0.0375",
        "2. And for a large one? 1 300 200 500 —",
        "Total 3 3,300 1,700 5,000 $0.0375 (partial)",
    ]
    page = response.content.decode()
    assert "retries and re-runs with another panel included" in page
    assert "a total marked partial leaves those runs out" in page


def test_a_conversation_whose_costs_are_all_known_has_a_whole_total(
    as_alice: Client, priced_conversation: Conversation
) -> None:
    Run.objects.filter(turn__conversation=priced_conversation, cost__isnull=True).update(cost=0.005)

    rows = spend_rows(as_alice.get(f"/c/{priced_conversation.pk}/"))

    assert rows[-1] == "Total 3 3,300 1,700 5,000 $0.0425"


def test_a_running_run_is_counted_as_running_and_its_cost_as_unknown(
    as_alice: Client, alice: User, ask: Any
) -> None:
    conversation = ask(alice, "Which database for a small team?")

    rows = spend_rows(as_alice.get(f"/c/{conversation.pk}/"))

    assert rows == ["1. Which database for a small team? 1 (1 running) 0 0 0 —", "Total 1 0 0 0 —"]


def test_spend_is_one_query(priced_conversation: Conversation, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        spend = conversation_spend(priced_conversation)
        assert (spend.total_tokens, spend.cost, spend.cost_is_partial) == (5000, pytest.approx(0.0375), True)


def test_the_spend_summary_is_under_the_thread_header_and_not_on_the_home_page(
    as_alice: Client, priced_conversation: Conversation
) -> None:
    page = as_alice.get(f"/c/{priced_conversation.pk}/").content.decode()

    assert page.index('<details class="spend" id="spend"') < page.index('<div id="thread"')
    assert f'data-refresh-url="/c/{priced_conversation.pk}/spend/">' in page  # closed: not " open"
    assert 'class="spend"' not in as_alice.get("/").content.decode()


def test_refreshing_the_spend_with_htmx_returns_it_open(
    as_alice: Client, priced_conversation: Conversation
) -> None:
    response = as_alice.get(f"/c/{priced_conversation.pk}/spend/", headers=htmx())

    opening = re.match(r"\s*(<details[^>]*>)", response.content.decode())
    assert opening is not None
    assert 'id="spend"' in opening.group(1)
    assert " open data-fresh>" in opening.group(1)


def test_refreshing_the_spend_as_a_run_ends_keeps_it_closed_when_asked(
    as_alice: Client, priced_conversation: Conversation
) -> None:
    response = as_alice.get(f"/c/{priced_conversation.pk}/spend/?open=0", headers=htmx())

    opening = re.match(r"\s*(<details[^>]*>)", response.content.decode())
    assert opening is not None
    assert 'id="spend"' in opening.group(1)
    assert " open" not in opening.group(1)


def test_bob_gets_404_for_alices_spend(as_bob: Client, priced_conversation: Conversation) -> None:
    assert as_bob.get(f"/c/{priced_conversation.pk}/spend/", headers=htmx()).status_code == 404


def test_clean_title_is_the_one_rule_for_titles() -> None:
    assert history.clean_title(" a\tb ") == "a b"
    with pytest.raises(ValueError, match="at most 200"):
        history.clean_title("y" * 201)
