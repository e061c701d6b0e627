"""Share links: making and revoking them, the public read-only page, and forking it."""

from __future__ import annotations

import base64
import re

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.utils import timezone

from chat import sharing
from chat.export import INTERRUPTED_NOTE
from chat.models import Conversation, Run, SeatAnswer, ShareLink, Turn, UserProviderKey
from tests.sharing_data import FOLLOW_UP, FUSED, PROMPT, SEATS, add_run, add_turn, build_conversation

# The shared page's one script: the Copy buttons' (static/chat/tools.js), nothing that writes or connects.
SHARED_PAGE_SCRIPT = re.compile(r'<script src="/static/chat/tools\.js" defer nonce="[^"]+">')


def only_the_copy_script(html: str) -> bool:
    scripts = re.findall(r"<script[^>]*>", html)
    return len(scripts) == 1 and SHARED_PAGE_SCRIPT.fullmatch(scripts[0]) is not None


SENTINEL_KEY = "sk-or-v1-SENTINEL-do-not-show-0123456789abcdef"


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    """Alice owns the conversation; she has an e-mail address and a key of her own."""
    return django_user_model.objects.create_user("alice", email="alice.private@example.com")


@pytest.fixture
def conversation(alice: User) -> Conversation:
    return build_conversation(alice)


@pytest.fixture
def link(conversation: Conversation) -> ShareLink:
    return sharing.create_link(conversation)


def forms_in(html: str) -> list[str]:
    return re.findall(r"<form\b[^>]*>", html)


# -- the token --------------------------------------------------------------------------------


def test_a_token_carries_256_random_bits(conversation: Conversation) -> None:
    link = sharing.create_link(conversation)

    assert len(link.token) >= 43
    assert len(base64.urlsafe_b64decode(link.token + "=")) == 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", link.token)


def test_every_link_gets_its_own_token(conversation: Conversation) -> None:
    tokens = {sharing.create_link(conversation).token for _ in range(50)}

    assert len(tokens) == 50


# -- the owner's controls ---------------------------------------------------------------------


def test_sharing_makes_a_link_to_the_turns_so_far(as_alice: Client, conversation: Conversation) -> None:
    response = as_alice.post(f"/c/{conversation.pk}/share/")

    link = ShareLink.objects.get(conversation=conversation)
    assert response.status_code == 302
    assert (link.upto_position, link.show_owner, link.revoked_at) == (1, False, None)


def test_show_my_username_is_kept_on_the_link(as_alice: Client, conversation: Conversation) -> None:
    as_alice.post(f"/c/{conversation.pk}/share/", {"show_owner": "on"})

    assert ShareLink.objects.get(conversation=conversation).show_owner


def test_the_owner_sees_the_link_in_the_share_link_textbox(
    as_alice: Client, conversation: Conversation
) -> None:
    response = as_alice.post(f"/c/{conversation.pk}/share/", headers={"HX-Request": "true"})

    link = ShareLink.objects.get(conversation=conversation)
    html = response.content.decode()
    assert re.search(r'<label for="share-link-\d+">Share link</label>', html)
    assert re.search(
        rf'<input id="share-link-\d+" type="text" readonly[^>]*value="http://testserver/s/{link.token}/"',
        html,
    )
    assert "Revoke link" in html


def test_the_chat_page_lists_the_active_links_only(as_alice: Client, conversation: Conversation) -> None:
    kept, revoked = sharing.create_link(conversation), sharing.create_link(conversation)
    sharing.revoke(revoked)

    html = as_alice.get(conversation.get_absolute_url()).content.decode()

    assert f"/s/{kept.token}/" in html
    assert f"/s/{revoked.token}/" not in html


def test_revoking_makes_the_link_answer_404(as_alice: Client, client: Client, link: ShareLink) -> None:
    response = as_alice.post(f"/c/{link.conversation_id}/share/{link.pk}/revoke/")

    link.refresh_from_db()
    assert response.status_code == 302
    assert link.revoked_at is not None
    assert client.get(f"/s/{link.token}/").status_code == 404


def test_bob_cannot_share_alices_conversation(as_bob: Client, conversation: Conversation) -> None:
    response = as_bob.post(f"/c/{conversation.pk}/share/")

    assert response.status_code == 404
    assert not ShareLink.objects.exists()


def test_anonymous_visitors_cannot_share(client: Client, conversation: Conversation) -> None:
    assert client.post(f"/c/{conversation.pk}/share/").status_code == 404
    assert not ShareLink.objects.exists()


def test_bob_cannot_revoke_alices_link(as_bob: Client, bob: User, link: ShareLink) -> None:
    bobs = Conversation.objects.create(owner=bob)

    answers = [
        as_bob.post(f"/c/{link.conversation_id}/share/{link.pk}/revoke/").status_code,
        as_bob.post(f"/c/{bobs.pk}/share/{link.pk}/revoke/").status_code,
    ]

    link.refresh_from_db()
    assert answers == [404, 404]
    assert link.revoked_at is None


def test_a_conversation_with_no_turn_has_nothing_to_share(as_alice: Client, alice: User) -> None:
    empty = Conversation.objects.create(owner=alice)

    response = as_alice.post(f"/c/{empty.pk}/share/", follow=True)

    assert not ShareLink.objects.exists()
    assert "There is nothing to share yet" in response.content.decode()


def test_with_htmx_a_conversation_with_no_turn_says_so_in_the_panel(as_alice: Client, alice: User) -> None:
    empty = Conversation.objects.create(owner=alice)

    response = as_alice.post(f"/c/{empty.pk}/share/", headers={"HX-Request": "true"})

    assert response.status_code == 422
    assert "There is nothing to share yet" in response.content.decode()
    assert not ShareLink.objects.exists()


# -- the shared page --------------------------------------------------------------------------


def test_anyone_with_the_link_reads_it_without_signing_in(client: Client, link: ShareLink) -> None:
    response = client.get(f"/s/{link.token}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert PROMPT in html and FOLLOW_UP in html
    for number, model in enumerate(SEATS, start=1):
        assert f'aria-label="Seat {number}: {model}"' in html
        assert f"Answer of {model}: rehearse, then migrate." in html
    assert 'aria-label="Analysis"' in html and "Blind spots" in html
    assert "Nobody mentioned testing the restore." in html
    assert "Plan in <strong>small steps</strong>" in html  # the fused answer, as markdown
    assert "The model is overloaded (HTTP 529)." in html


def test_a_turn_added_after_sharing_is_not_shown(client: Client, link: ShareLink) -> None:
    later = add_turn(link.conversation, 2, "A question asked after sharing")
    add_run(later)

    html = client.get(f"/s/{link.token}/").content.decode()

    assert "A question asked after sharing" not in html
    assert FOLLOW_UP in html


def test_a_new_link_shares_the_later_turns(client: Client, link: ShareLink) -> None:
    add_run(add_turn(link.conversation, 2, "A question asked after sharing"))

    newer = sharing.create_link(link.conversation)

    assert "A question asked after sharing" in client.get(f"/s/{newer.token}/").content.decode()


def test_a_run_still_running_when_shared_shows_as_it_is_saved_now(client: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Live")
    run = add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)
    link = sharing.create_link(conversation)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.DONE, stage=Run.Stage.FINISHED, fused_text="The final fused answer."
    )

    html = client.get(f"/s/{link.token}/").content.decode()

    assert "The final fused answer." in html


def test_the_shared_page_has_no_websocket_and_no_stop_button(client: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Live")
    add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)
    link = sharing.create_link(conversation)

    html = client.get(f"/s/{link.token}/").content.decode()

    assert "ws-connect" not in html
    assert "<button" not in html  # a running run's answers have no Copy button yet
    # The one script is the Copy buttons' own (static/chat/tools.js): no htmx, nothing that writes.
    assert only_the_copy_script(html)


def test_an_unknown_token_answers_404(client: Client, link: ShareLink) -> None:
    assert client.get(f"/s/{sharing.new_token()}/").status_code == 404


def test_the_shared_page_cannot_be_posted_to(as_bob: Client, client: Client, link: ShareLink) -> None:
    assert client.post(f"/s/{link.token}/").status_code == 405
    assert as_bob.post(f"/s/{link.token}/").status_code == 405


def test_the_shared_page_asks_not_to_be_indexed_cached_or_referred(client: Client, link: ShareLink) -> None:
    response = client.get(f"/s/{link.token}/")

    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "private, no-store"
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_a_signed_in_visitors_page_sends_its_origin_to_this_site_alone(
    as_bob: Client, link: ShareLink
) -> None:
    # With no-referrer a browser posts the Fork form with `Origin: null`, which CSRF refuses.
    response = as_bob.get(f"/s/{link.token}/")

    assert response["Referrer-Policy"] == "same-origin"
    assert '<meta name="referrer" content="same-origin">' in response.content.decode()


def test_the_shared_page_sets_no_cookie_for_an_anonymous_reader(client: Client, link: ShareLink) -> None:
    response = client.get(f"/s/{link.token}/")

    assert not response.cookies


def test_the_shared_page_shows_no_key_no_email_and_no_username(
    client: Client, alice: User, link: ShareLink
) -> None:
    key = UserProviderKey(user=alice, endpoint="openrouter")
    key.set_api_key(SENTINEL_KEY)
    key.save()

    html = client.get(f"/s/{link.token}/").content.decode()

    assert SENTINEL_KEY not in html
    assert key.encrypted_api_key not in html
    assert "alice.private@example.com" not in html
    assert "alice" not in html.lower()


def test_the_shared_page_shows_the_username_when_the_owner_chose_to(client: Client, link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(show_owner=True)

    html = client.get(f"/s/{link.token}/").content.decode()

    assert "Shared by alice" in html
    assert "alice.private@example.com" not in html


def test_a_signed_in_visitor_sees_only_the_fork_form(as_bob: Client, link: ShareLink) -> None:
    html = as_bob.get(f"/s/{link.token}/").content.decode()

    assert forms_in(html) == [f'<form method="post" action="/s/{link.token}/fork/" class="inline">']
    assert html.count('name="csrfmiddlewaretoken"') == 1


def test_an_anonymous_visitor_sees_no_form_and_a_link_to_sign_in_to_fork(
    client: Client, link: ShareLink
) -> None:
    html = client.get(f"/s/{link.token}/").content.decode()

    assert forms_in(html) == []
    assert "csrfmiddlewaretoken" not in html
    assert f'<a href="/accounts/login/?next=%2Fs%2F{link.token}%2F">Sign in to fork</a>' in html


def test_model_output_on_the_shared_page_is_sanitised(client: Client, alice: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Hostile")
    hostile = '<script>alert("x")</script> and <img src="https://evil.example/leak">'
    add_run(add_turn(conversation, 0, "Say something"), texts=[hostile, "fine", "fine"])
    link = sharing.create_link(conversation)

    html = client.get(f"/s/{link.token}/").content.decode()

    assert only_the_copy_script(html)  # the hostile one is escaped
    assert "<img" not in html
    assert "&lt;script&gt;alert" in html


# -- forking ----------------------------------------------------------------------------------


def test_a_signed_in_visitor_forks_the_shared_turns_into_their_account(
    as_bob: Client, bob: User, link: ShareLink
) -> None:
    add_run(add_turn(link.conversation, 2, "A question asked after sharing"))

    response = as_bob.post(f"/s/{link.token}/fork/")

    fork = Conversation.objects.get(owner=bob)
    assert response.status_code == 302 and response.url == fork.get_absolute_url()
    assert fork.title == "Plan a database migration (fork)"
    assert list(fork.turns.values_list("prompt", flat=True)) == [PROMPT, FOLLOW_UP]
    assert Run.objects.filter(turn__conversation=fork).count() == 3
    assert SeatAnswer.objects.filter(run__turn__conversation=fork).count() == 9
    retry = Run.objects.filter(turn__conversation=fork, retry_of__isnull=False).get()
    assert retry.retry_of.turn.conversation == fork
    assert fork.thread_messages() == link.conversation.thread_messages(
        before=Turn.objects.get(conversation=link.conversation, position=2)
    )


def test_a_fork_can_be_continued_by_its_new_owner(as_bob: Client, bob: User, link: ShareLink) -> None:
    as_bob.post(f"/s/{link.token}/fork/")
    fork = Conversation.objects.get(owner=bob)

    html = as_bob.get(fork.get_absolute_url()).content.decode()

    assert f'action="/c/{fork.pk}/send/"' in html
    assert FUSED in Turn.objects.get(conversation=fork, position=0).latest_run().fused_text  # type: ignore[union-attr]


def test_a_fork_leaves_the_original_alone(as_bob: Client, link: ShareLink) -> None:
    before = list(Run.objects.filter(turn__conversation=link.conversation).values())

    as_bob.post(f"/s/{link.token}/fork/")

    assert list(Run.objects.filter(turn__conversation=link.conversation).values()) == before
    assert Conversation.objects.filter(owner=link.conversation.owner).count() == 1


def test_a_run_still_running_is_forked_as_interrupted(as_bob: Client, alice: User, bob: User) -> None:
    conversation = Conversation.objects.create(owner=alice, title="Live")
    add_run(add_turn(conversation, 0, PROMPT), status=Run.Status.RUNNING)
    link = sharing.create_link(conversation)

    as_bob.post(f"/s/{link.token}/fork/")

    run = Run.objects.get(turn__conversation__owner=bob)
    assert run.status == Run.Status.INTERRUPTED
    assert INTERRUPTED_NOTE in run.note
    assert not run.answers.filter(status__in=[SeatAnswer.Status.WAITING, SeatAnswer.Status.WRITING]).exists()


def test_anonymous_visitors_cannot_fork(client: Client, link: ShareLink) -> None:
    response = client.post(f"/s/{link.token}/fork/")

    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next=%2Fs%2F{link.token}%2F"
    assert Conversation.objects.count() == 1


def test_a_revoked_link_cannot_be_forked(as_bob: Client, link: ShareLink) -> None:
    sharing.revoke(link)

    assert as_bob.post(f"/s/{link.token}/fork/").status_code == 404
    assert as_bob.get(f"/s/{link.token}/").status_code == 404
    assert Conversation.objects.count() == 1


def test_an_unknown_token_cannot_be_forked(as_bob: Client, link: ShareLink) -> None:
    assert as_bob.post(f"/s/{sharing.new_token()}/fork/").status_code == 404
    assert Conversation.objects.count() == 1


def test_forking_is_a_post(as_bob: Client, link: ShareLink) -> None:
    assert as_bob.get(f"/s/{link.token}/fork/").status_code == 405


def test_revoking_twice_keeps_the_first_time(link: ShareLink) -> None:
    sharing.revoke(link)
    first = link.revoked_at
    sharing.revoke(link)

    link.refresh_from_db()
    assert link.revoked_at == first
    assert first is not None and first <= timezone.now()


# -- a link that is gone ----------------------------------------------------------------------

GONE = "This link was revoked or never existed"


@override_settings(DEBUG=True)
def test_a_revoked_link_shows_our_page_even_under_debug(client: Client, link: ShareLink) -> None:
    sharing.revoke(link)

    response = client.get(f"/s/{link.token}/")

    html = response.content.decode()
    assert (response.status_code, GONE in html, "URLconf" in html) == (404, True, False)


@override_settings(DEBUG=True)
def test_an_unknown_link_shows_our_page_even_under_debug(client: Client, db: None) -> None:
    response = client.get(f"/s/{sharing.new_token()}/")

    html = response.content.decode()
    assert (response.status_code, GONE in html, "URLconf" in html) == (404, True, False)


def test_the_gone_page_says_how_to_get_a_new_link(client: Client, db: None) -> None:
    html = client.get(f"/s/{sharing.new_token()}/").content.decode()

    assert "ask them for a new link" in html
    assert 'href="/"' in html


def test_forking_a_revoked_link_shows_the_gone_page(as_bob: Client, link: ShareLink) -> None:
    sharing.revoke(link)

    response = as_bob.post(f"/s/{link.token}/fork/")

    assert (response.status_code, GONE in response.content.decode()) == (404, True)


def test_the_gone_page_is_not_indexed_and_sends_no_referrer(client: Client, db: None) -> None:
    response = client.get(f"/s/{sharing.new_token()}/")

    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@override_settings(DEBUG=False)
def test_an_unknown_page_shows_our_404_page_in_production(client: Client) -> None:
    response = client.get("/no-such-page/")

    html = response.content.decode()
    assert (response.status_code, "This page does not exist" in html) == (404, True)


def test_the_500_page_renders_without_a_request() -> None:
    # Django renders 500.html with an empty context when a view has failed.
    html = render_to_string("500.html")

    assert "Something went wrong on our side" in html and 'href="/"' in html
