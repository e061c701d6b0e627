"""Sign-up: open or closed (FUSIONROOM_SIGNUP), `manage.py adduser`, and no cheap list of usernames."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.forms import UNAVAILABLE
from tests.security.test_production_settings import BASE_DIR, production_env

PASSWORD = "correct-horse-battery-9"


def sign_up(client: Client, username: str, **extra: Any) -> Any:
    return client.post(
        "/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}, **extra
    )


@pytest.fixture
def closed(settings: Any) -> None:
    settings.FUSIONROOM_SIGNUP = "closed"


# -- closed ----------------------------------------------------------------------------------


def test_a_closed_sign_up_page_says_staff_create_accounts(client: Client, db: None, closed: None) -> None:
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    assert "Accounts are created by staff" in response.content.decode()
    assert 'name="password1"' not in response.content.decode()


def test_a_closed_sign_up_refuses_a_post_and_creates_nobody(client: Client, db: None, closed: None) -> None:
    response = sign_up(client, "mallory")

    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()


def test_closed_pages_link_to_no_sign_up(client: Client, db: None, closed: None) -> None:
    assert "/accounts/signup/" not in client.get("/accounts/login/").content.decode()


def test_open_pages_link_to_sign_up(client: Client, db: None) -> None:
    assert "/accounts/signup/" in client.get("/accounts/login/").content.decode()


def test_production_is_closed_unless_set() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.FUSIONROOM_SIGNUP)"
    )
    for overrides, expected in [({}, "closed"), ({"FUSIONROOM_SIGNUP": "open"}, "open")]:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=BASE_DIR,
            env=production_env(**overrides),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == expected, result.stderr


def test_a_misspelt_setting_stops_startup() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=production_env(FUSIONROOM_SIGNUP="maybe"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "FUSIONROOM_SIGNUP must be open or closed" in result.stderr


# -- manage.py adduser -----------------------------------------------------------------------


def test_adduser_reads_the_password_from_a_file(tmp_path: Path, db: None) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")

    call_command("adduser", "dora", "--password-file", str(secret), stdout=io.StringIO())

    dora = User.objects.get(username="dora")
    assert dora.check_password(PASSWORD) and not dora.is_staff


def test_adduser_reads_the_password_from_stdin(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))

    call_command("adduser", "erin", "--password-file", "-", "--staff", stdout=io.StringIO())

    erin = User.objects.get(username="erin")
    assert erin.check_password(PASSWORD) and erin.is_staff


def test_adduser_refuses_a_weak_password(monkeypatch: pytest.MonkeyPatch, db: None) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("12345678\n"))

    with pytest.raises(CommandError, match="too common"):
        call_command("adduser", "frank", "--password-file", "-")
    assert not User.objects.filter(username="frank").exists()


def test_adduser_refuses_a_name_that_exists(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))

    with pytest.raises(CommandError, match="already exists"):
        call_command("adduser", "Alice", "--password-file", "-")


def test_adduser_works_while_sign_up_is_closed(
    tmp_path: Path, client: Client, db: None, closed: None
) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    call_command("adduser", "gina", "--password-file", str(secret), stdout=io.StringIO())

    assert client.post("/accounts/login/", {"username": "gina", "password": PASSWORD}).status_code == 302


# -- enumeration -----------------------------------------------------------------------------


def test_a_taken_username_gets_no_already_exists_message(client: Client, alice: User) -> None:
    response = sign_up(client, "alice")

    assert response.status_code == 200
    assert "already exists" not in response.content.decode()
    assert response.context["form"].errors["username"] == [UNAVAILABLE]


def test_sign_up_attempts_from_one_address_are_limited(client: Client, alice: User, settings: Any) -> None:
    settings.FUSIONROOM_SIGNUP_MAX_PER_IP = 3
    for number in range(3):
        assert sign_up(client, f"alice{number}" if number else "alice").status_code in {200, 302}
        client.logout()

    response = sign_up(client, "bob")

    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.FUSIONROOM_SIGNUP_WINDOW_SECONDS)
    assert "Too many sign-up attempts" in response.content.decode()
    assert UNAVAILABLE not in response.content.decode()
    assert not User.objects.filter(username="bob").exists()


def test_the_sign_up_limit_is_per_address(client: Client, alice: User, settings: Any) -> None:
    settings.FUSIONROOM_SIGNUP_MAX_PER_IP = 1
    sign_up(client, "alice", REMOTE_ADDR="10.0.0.1")

    assert sign_up(client, "alice", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert sign_up(client, "hana", REMOTE_ADDR="10.0.0.2").status_code == 302
