"""Provider keys at rest: encrypted, rotatable, and closed to anyone without the encryption key."""

from __future__ import annotations

import io
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from chat.endpoints import crypto
from chat.endpoints.crypto import KeyUnavailable
from chat.models import ProviderEndpoint, UserProviderKey
from tests.conftest import SENTINEL

BASE_DIR = Path(__file__).resolve().parent.parent


def raw_column(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT encrypted_api_key FROM {table} WHERE id = %s", [pk])
        (value,) = cursor.fetchone()
    return str(value)


def new_key() -> str:
    return Fernet.generate_key().decode()


# -- encryption ------------------------------------------------------------------------------


def test_a_key_comes_back_as_it_went_in() -> None:
    assert crypto.decrypt(crypto.encrypt(SENTINEL)) == SENTINEL


def test_the_same_key_encrypts_differently_each_time() -> None:
    assert crypto.encrypt(SENTINEL) != crypto.encrypt(SENTINEL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fixture, table", [("alices_key", "chat_userproviderkey"), ("alices_endpoint", "chat_providerendpoint")]
)
def test_the_database_never_holds_the_plaintext(
    request: pytest.FixtureRequest, fixture: str, table: str
) -> None:
    row = request.getfixturevalue(fixture)
    stored = raw_column(table, row.pk)
    assert stored and stored != SENTINEL
    pieces = {SENTINEL[start : start + 6] for start in range(len(SENTINEL) - 5)}
    assert not [piece for piece in pieces if piece in stored]
    assert type(row).objects.get(pk=row.pk).api_key() == SENTINEL


@pytest.mark.django_db
def test_a_row_without_a_key_has_none(alice: User) -> None:
    row = UserProviderKey.objects.create(user=alice, endpoint="openrouter")
    assert not row.has_api_key
    assert row.api_key() == ""


# -- failing closed -----------------------------------------------------------------------------


def test_a_token_from_another_key_fails_closed(settings: Any) -> None:
    token = crypto.encrypt(SENTINEL)
    settings.FUSIONROOM_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(KeyUnavailable, match="cannot be decrypted with any configured encryption key"):
        crypto.decrypt(token)


def test_a_damaged_token_fails_closed() -> None:
    token = crypto.encrypt(SENTINEL)
    with pytest.raises(KeyUnavailable):
        crypto.decrypt(token[:-4] + "AAAA")
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("not a token at all é")


@pytest.mark.django_db
def test_a_stored_key_under_a_dropped_encryption_key_raises_a_clear_error(
    alices_key: UserProviderKey, settings: Any
) -> None:
    settings.FUSIONROOM_ENCRYPTION_KEYS = [new_key()]
    row = UserProviderKey.objects.get(pk=alices_key.pk)
    with pytest.raises(KeyUnavailable) as raised:
        row.api_key()
    assert raised.value.endpoint == "openrouter"
    assert "'openrouter'" in str(raised.value)
    assert raised.value.user_message == "Your stored key can no longer be read; please enter it again."
    assert row.has_api_key and not row.key_is_readable()


def test_a_malformed_encryption_key_is_refused_without_being_quoted(settings: Any) -> None:
    settings.FUSIONROOM_ENCRYPTION_KEYS = ["not-a-fernet-key-SECRETPART"]
    with pytest.raises(ImproperlyConfigured) as raised:
        crypto.encrypt(SENTINEL)
    assert "#1" in str(raised.value)
    assert "SECRETPART" not in str(raised.value)


# -- rotation -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_new_first_key_so_the_old_one_can_go(
    alices_key: UserProviderKey, alices_endpoint: ProviderEndpoint, settings: Any
) -> None:
    old = settings.FUSIONROOM_ENCRYPTION_KEYS[0]
    before = raw_column("chat_userproviderkey", alices_key.pk)
    settings.FUSIONROOM_ENCRYPTION_KEYS = [new_key(), old]

    call_command("rotate_encryption_keys", stdout=io.StringIO())

    assert raw_column("chat_userproviderkey", alices_key.pk) != before
    settings.FUSIONROOM_ENCRYPTION_KEYS = settings.FUSIONROOM_ENCRYPTION_KEYS[:1]  # the old key is dropped
    assert UserProviderKey.objects.get(pk=alices_key.pk).api_key() == SENTINEL
    assert ProviderEndpoint.objects.get(pk=alices_endpoint.pk).api_key() == SENTINEL


@pytest.mark.django_db
def test_without_rotation_dropping_the_old_key_loses_the_stored_keys(
    alices_key: UserProviderKey, settings: Any
) -> None:
    settings.FUSIONROOM_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(KeyUnavailable):
        UserProviderKey.objects.get(pk=alices_key.pk).api_key()


@pytest.mark.django_db
def test_rotation_changes_nothing_when_a_stored_key_is_unreadable(
    alices_key: UserProviderKey, alice: User, settings: Any
) -> None:
    stray = UserProviderKey.objects.create(
        user=alice, endpoint="groq", encrypted_api_key=Fernet(new_key()).encrypt(b"lost").decode()
    )
    before = raw_column("chat_userproviderkey", alices_key.pk)
    settings.FUSIONROOM_ENCRYPTION_KEYS = [new_key(), settings.FUSIONROOM_ENCRYPTION_KEYS[0]]

    with pytest.raises(CommandError, match=rf"Nothing was changed.*UserProviderKey {stray.pk}"):
        call_command("rotate_encryption_keys")

    assert raw_column("chat_userproviderkey", alices_key.pk) == before


# -- where the encryption keys come from --------------------------------------------------------


def test_development_creates_a_private_key_file_once_and_keeps_using_it(
    settings: Any, tmp_path: Path
) -> None:
    key_file = tmp_path / "var" / "encryption.key"
    settings.FUSIONROOM_ENCRYPTION_KEYS = []
    settings.FUSIONROOM_ENCRYPTION_KEY_FILE = str(key_file)
    settings.DEBUG = True

    token = crypto.encrypt(SENTINEL)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    assert crypto.decrypt(token) == SENTINEL
    assert key_file.read_text() == first


def test_without_debug_no_key_file_is_invented(settings: Any, tmp_path: Path) -> None:
    settings.FUSIONROOM_ENCRYPTION_KEYS = []
    settings.FUSIONROOM_ENCRYPTION_KEY_FILE = str(tmp_path / "missing.key")
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="FUSIONROOM_ENCRYPTION_KEYS"):
        crypto.encrypt(SENTINEL)
    assert not (tmp_path / "missing.key").exists()


def start_django(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("FUSIONROOM_", "DJANGO_"))
    }
    environment |= {"DJANGO_SETTINGS_MODULE": "fusionroom.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_an_encryption_key_refuses_to_start(tmp_path: Path) -> None:
    started = start_django(
        tmp_path, DJANGO_DEBUG="0", FUSIONROOM_ENCRYPTION_KEY_FILE=str(tmp_path / "missing.key")
    )
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "FUSIONROOM_ENCRYPTION_KEYS is not set" in started.stderr


def test_production_with_an_encryption_key_starts(tmp_path: Path) -> None:
    started = start_django(
        tmp_path,
        DJANGO_DEBUG="0",
        FUSIONROOM_ENCRYPTION_KEYS=new_key(),
        # Production needs these too (tests/security/test_production_settings.py).
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="fusionroom.example",
    )
    assert started.returncode == 0, started.stderr
