"""Forged requests: every state-changing URL refuses a POST without the CSRF token and changes nothing.

The URLs come from tests/test_access.py's TABLE, which must name every URL of the app: a new
POST URL is checked here without anyone having to remember it.
"""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.test_access import PAYLOAD, TABLE, World, snapshot

pytestmark = pytest.mark.django_db

POST_ROWS = [name for name, row in TABLE.items() if "POST" in row.methods]
GET_ROWS = [name for name, row in TABLE.items() if "GET" in row.methods]


def forger(user: User) -> Client:
    """A browser with the user's session cookie, on a page of another site: it can make the
    browser send a POST, but cannot read this site's pages or cookies to learn the token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def signed_in_user(client: Client) -> int | None:
    session_key = client.cookies.get(settings.SESSION_COOKIE_NAME)
    if session_key is None:
        return None
    session = Session.objects.filter(session_key=session_key.value).first()
    return None if session is None else session.get_decoded().get("_auth_user_id")


def test_there_are_state_changing_urls_to_check() -> None:
    assert len(POST_ROWS) >= 20
    assert "logout" in POST_ROWS and "shared_fork" in POST_ROWS


@pytest.mark.parametrize("name", POST_ROWS)
def test_a_post_without_the_token_is_refused_and_changes_nothing(world: World, name: str) -> None:
    client = forger(world.alice)
    before = snapshot()

    response = client.post(reverse(name, kwargs=TABLE[name].kwargs(world)), PAYLOAD)

    assert response.status_code == 403, name
    assert snapshot() == before
    assert signed_in_user(client) is not None  # not even signed out


@pytest.mark.parametrize("name", POST_ROWS)
def test_a_post_with_the_token_from_the_cookie_passes_the_check(world: World, name: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    client.get("/")  # the page sets the csrftoken cookie, as in a browser
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(
        reverse(name, kwargs=TABLE[name].kwargs(world)), PAYLOAD, headers={"X-CSRFToken": token}
    )

    assert response.status_code != 403, name


def test_htmx_requests_carry_the_token_the_page_gives_them(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    page = client.get(world.conversation.get_absolute_url()).content.decode()
    found = re.search(r"<body hx-headers='([^']*)'>", page)
    assert found is not None
    headers = json.loads(found.group(1))

    response = client.post(
        reverse("conversation_rename", kwargs={"pk": world.conversation.pk}),
        {"title": "Renamed by htmx"},
        headers={**headers, "HX-Request": "true"},
    )

    assert response.status_code == 200
    world.conversation.refresh_from_db()
    assert world.conversation.title == "Renamed by htmx"


def test_a_token_from_another_session_is_refused(world: World) -> None:
    bobs = Client(enforce_csrf_checks=True)
    bobs.force_login(world.bob)
    bobs.get("/")
    bobs_token = bobs.cookies[settings.CSRF_COOKIE_NAME].value
    client = forger(world.alice)
    before = snapshot()

    response = client.post(
        reverse("conversation_delete", kwargs={"pk": world.conversation.pk}),
        headers={"X-CSRFToken": bobs_token},
    )

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/"])
def test_signing_in_or_up_needs_the_token_too(url: str, django_user_model: type[User]) -> None:
    django_user_model.objects.create_user("carol", password="correct-horse-battery-9")
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        url,
        {
            "username": "carol" if "login" in url else "mallory",
            "password": "correct-horse-battery-9",
            "password1": "correct-horse-battery-9",
            "password2": "correct-horse-battery-9",
        },
    )

    assert response.status_code == 403
    assert signed_in_user(client) is None
    assert not django_user_model.objects.filter(username="mallory").exists()


@pytest.mark.parametrize("name", GET_ROWS)
def test_a_get_changes_nothing_even_for_the_owner(world: World, name: str) -> None:
    client = Client()
    client.force_login(world.alice)
    before = snapshot()

    client.get(reverse(name, kwargs=TABLE[name].kwargs(world)))

    assert snapshot() == before


def test_a_get_to_sign_out_does_not_sign_out(world: World) -> None:
    # An <img src="/accounts/logout/"> on any page would otherwise sign the user out.
    client = Client()
    client.force_login(world.alice)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert signed_in_user(client) == str(world.alice.pk)
