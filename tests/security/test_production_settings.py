"""Production settings: what they refuse to start without, what they turn on, and Django's deploy check."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from fusionroom.security import (
    OLD_DEV_SECRET_KEY,
    allowed_hosts_problem,
    development_secret_key,
    encryption_keys_problem,
    proxy_ssl_header,
    refuse_to_start_if,
    secret_key_problem,
)

BASE_DIR = Path(settings.BASE_DIR)


def production_env(**overrides: str) -> dict[str, str]:
    """This machine's environment without any Django or FusionRoom setting, then production's."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("FUSIONROOM_", "DJANGO_"))
    }
    environment.pop("DATABASE_URL", None)
    return environment | {
        "DJANGO_SETTINGS_MODULE": "fusionroom.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "FUSIONROOM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "fusionroom.example",
        **overrides,
    }


def run_python(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- the rules, one by one -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, problem",
    [
        ("", "is not set"),
        ("short-key", "has 9 characters; at least 50 are required"),
        (OLD_DEV_SECRET_KEY, "is a well-known development key"),
        ("django-insecure-" + "x1y2z3" * 10, "is a well-known development key"),
        ("ab" * 40, "repeats too few characters"),
    ],
)
def test_a_weak_secret_key_is_named_without_being_quoted(key: str, problem: str) -> None:
    found = secret_key_problem(key)
    assert found is not None and problem in found
    if key:
        assert key not in found


def test_a_random_secret_key_passes() -> None:
    assert secret_key_problem(secrets.token_urlsafe(64)) is None


def test_production_needs_named_hosts() -> None:
    assert "DJANGO_ALLOWED_HOSTS is not set" in str(allowed_hosts_problem([]))
    assert "not '*'" in str(allowed_hosts_problem(["*"]))
    assert allowed_hosts_problem(["fusionroom.example"]) is None


def test_production_needs_fernet_keys_from_the_variable_or_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    assert "FUSIONROOM_ENCRYPTION_KEYS is not set" in str(encryption_keys_problem([], missing))
    assert "#2 is not a Fernet key" in str(
        encryption_keys_problem([Fernet.generate_key().decode(), "x"], missing)
    )
    assert encryption_keys_problem([Fernet.generate_key().decode()], missing) is None
    key_file = tmp_path / "encryption.key"
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    assert encryption_keys_problem([], key_file) is None


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        refuse_to_start_if(["first problem", None, "second problem"])
    assert "- first problem\n- second problem" in str(refused.value)
    refuse_to_start_if([None, None])


def test_the_proxy_header_is_opt_in_and_must_be_a_header_name() -> None:
    assert proxy_ssl_header("") is None
    assert proxy_ssl_header("X-Forwarded-Proto") == ("HTTP_X_FORWARDED_PROTO", "https")
    with pytest.raises(ImproperlyConfigured):
        proxy_ssl_header("X-Forwarded-Proto: https")


def test_development_makes_a_private_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.key"

    first = development_secret_key(path)

    assert len(first) >= 50 and secret_key_problem(first) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert development_secret_key(path) == first
    assert [entry.name for entry in path.parent.iterdir()] == ["secret.key"]  # no temporary file left


# -- the settings module itself, in a fresh process ----------------------------------------------------


def test_production_refuses_to_start_without_its_secrets_and_says_what_is_missing() -> None:
    environment = production_env()
    for name in ("DJANGO_SECRET_KEY", "FUSIONROOM_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS"):
        del environment[name]
    environment["FUSIONROOM_ENCRYPTION_KEY_FILE"] = "/nonexistent/encryption.key"

    started = run_python("import django; django.setup()", environment)

    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    for missing in (
        "DJANGO_SECRET_KEY is not set",
        "FUSIONROOM_ENCRYPTION_KEYS is not set",
        "DJANGO_ALLOWED_HOSTS",
    ):
        assert missing in started.stderr


def test_production_refuses_the_old_development_key() -> None:
    started = run_python(
        "import django; django.setup()", production_env(DJANGO_SECRET_KEY=OLD_DEV_SECRET_KEY)
    )
    assert started.returncode != 0 and "well-known development key" in started.stderr
    assert OLD_DEV_SECRET_KEY not in started.stderr.split("ImproperlyConfigured", 1)[1]


def test_production_turns_on_https_only_cookies_and_headers() -> None:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "n: getattr(s, n) for n in ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SESSION_COOKIE_HTTPONLY', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_PROXY_SSL_HEADER', 'X_FRAME_OPTIONS', "
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY']}))"
    )
    started = run_python(code, production_env(DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"))
    assert started.returncode == 0, started.stderr
    values = json.loads(started.stdout)

    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
    }


def test_djangos_deployment_check_passes_with_production_settings() -> None:
    # The same command .ci/run runs (make check-deploy).
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout
