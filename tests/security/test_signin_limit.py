"""Sign-in attempts are limited per username and per address; past the limit even the right password waits."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache.backends import locmem
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def limits(settings: Any) -> None:
    settings.FUSIONROOM_SIGNIN_MAX_FAILURES = 5
    settings.FUSIONROOM_SIGNIN_MAX_FAILURES_PER_IP = 20
    settings.FUSIONROOM_SIGNIN_WINDOW_SECONDS = 900
    settings.FUSIONROOM_CLIENT_IP_HEADER = ""
    # Dozens of sign-ins per test: a fast hasher (the limit does not depend on which).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def carol(limits: None, django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("carol", password=PASSWORD)


def sign_in(username: str, password: str, address: str = "203.0.113.7", **headers: str) -> Any:
    return Client(REMOTE_ADDR=address).post(
        LOGIN, {"username": username, "password": password}, headers=headers
    )


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and settings.SESSION_COOKIE_NAME in response.cookies


def fail(times: int, username: str = "carol", address: str = "203.0.113.7", **headers: str) -> None:
    for _ in range(times):
        response = sign_in(username, "wrong-guess", address, **headers)
        assert response.status_code == 200  # the usual "please enter a correct username" page


def test_the_right_password_signs_in(carol: User) -> None:
    assert signed_in(sign_in("carol", PASSWORD))


def test_after_five_failures_even_the_right_password_is_refused_with_a_clear_message(carol: User) -> None:
    fail(5)

    response = sign_in("carol", PASSWORD)

    assert response.status_code == 429
    assert not signed_in(response)
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert response["Retry-After"] == "900"


def test_four_failures_still_let_the_right_password_in(carol: User) -> None:
    fail(4)
    assert signed_in(sign_in("carol", PASSWORD))


def test_the_limit_follows_the_username_to_another_address(carol: User) -> None:
    fail(5, address="203.0.113.7")
    assert sign_in("carol", PASSWORD, address="198.51.100.9").status_code == 429


def test_the_username_is_counted_whatever_its_case(carol: User) -> None:
    fail(3, username="Carol")
    fail(2, username=" CAROL ")
    assert sign_in("carol", PASSWORD).status_code == 429


def test_a_locked_username_does_not_lock_another_user_at_the_same_address(
    carol: User, django_user_model: type[User]
) -> None:
    django_user_model.objects.create_user("dave", password=PASSWORD)
    fail(5, username="carol")
    assert signed_in(sign_in("dave", PASSWORD))


def test_a_username_that_does_not_exist_is_limited_the_same_way(carol: User) -> None:
    # Otherwise the refusal would tell which accounts exist.
    fail(5, username="nobody")
    refused = sign_in("nobody", "anything")
    fail(5, username="carol")
    assert refused.status_code == sign_in("carol", "anything").status_code == 429


def test_one_address_trying_many_usernames_is_refused_after_twenty(
    carol: User, django_user_model: type[User]
) -> None:
    for number in range(20):
        fail(1, username=f"guess-{number}")

    assert sign_in("carol", PASSWORD).status_code == 429
    assert signed_in(sign_in("carol", PASSWORD, address="198.51.100.9"))


def test_a_success_clears_the_usernames_failures(carol: User) -> None:
    fail(4)
    assert signed_in(sign_in("carol", PASSWORD))
    fail(4)
    assert signed_in(sign_in("carol", PASSWORD))


def test_sign_in_opens_again_once_the_window_has_passed(
    carol: User, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # The window is waited out on the local-memory cache's clock: that cache, even under make
    # test-cluster (where the cache is Redis, whose expiry no test can fast-forward).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    fail(5)
    assert sign_in("carol", PASSWORD).status_code == 429
    now = locmem.time.time()
    monkeypatch.setattr(locmem.time, "time", lambda: now + 901)

    assert signed_in(sign_in("carol", PASSWORD))


def test_behind_a_proxy_the_address_it_added_counts_not_the_ones_the_client_claimed(
    carol: User, django_user_model: type[User], settings: Any
) -> None:
    settings.FUSIONROOM_CLIENT_IP_HEADER = "X-Forwarded-For"
    for number in range(20):
        # Every request claims a new address first; the proxy appends the real one last.
        fail(1, f"guess-{number}", "10.0.0.1", **{"X-Forwarded-For": f"192.0.2.{number}, 203.0.113.50"})

    assert sign_in("carol", PASSWORD, "10.0.0.1", **{"X-Forwarded-For": "203.0.113.50"}).status_code == 429
    assert signed_in(sign_in("carol", PASSWORD, "10.0.0.1", **{"X-Forwarded-For": "203.0.113.51"}))


def test_the_admins_sign_in_is_limited_too(django_user_model: type[User], limits: None) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        admin.post("/admin/login/", {"username": "root", "password": "wrong-guess"})
    fail(2, username="root")  # the two sign-in pages share the count

    response = admin.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 200  # the form again, not the redirect into the admin
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert admin.get("/admin/").status_code == 302
    assert sign_in("root", PASSWORD).status_code == 429


def test_a_right_password_at_the_admin_clears_the_count(django_user_model: type[User], limits: None) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    fail(4, username="root")
    admin = Client(REMOTE_ADDR="203.0.113.7")
    assert (
        admin.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}).status_code
        == 302
    )
    fail(4, username="root")
    assert signed_in(sign_in("root", PASSWORD))
