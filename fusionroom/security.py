"""What production refuses to start without, and the development secret key kept in a local file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# The fixed development key of earlier versions: public, so never acceptable in production.
OLD_DEV_SECRET_KEY = "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production"
MIN_SECRET_KEY_LENGTH = 50  # what Django's deployment check (security.W009) asks for
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
MAKE_A_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(64))"'
MAKE_A_FERNET_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def refuse_to_start_if(problems: Sequence[str | None]) -> None:
    """Every problem at once, so that one failed start tells the operator all there is to fix."""
    found = [problem for problem in problems if problem]
    if found:
        listed = "\n".join(f"- {problem}" for problem in found)
        raise ImproperlyConfigured(f"FusionRoom will not start with DJANGO_DEBUG off:\n{listed}")


def secret_key_problem(key: str) -> str | None:
    """Why a key that signs sessions and CSRF tokens is one anyone could know or guess, if it is."""
    if not key:
        return f"DJANGO_SECRET_KEY is not set. Make one with `{MAKE_A_SECRET_KEY}`."
    if key == OLD_DEV_SECRET_KEY or key.startswith("django-insecure"):
        problem = "is a well-known development key"
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        problem = f"has {len(key)} characters; at least {MIN_SECRET_KEY_LENGTH} are required"
    elif len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        problem = "repeats too few characters to be random"
    else:
        return None
    # Which rule it breaks, never the key itself.
    return f"DJANGO_SECRET_KEY {problem}. Make one with `{MAKE_A_SECRET_KEY}`."


def encryption_keys_problem(keys: Sequence[str], key_file: Path) -> str | None:
    """The keys that encrypt stored provider keys must exist, and be Fernet keys, before serving."""
    if not keys:
        if not key_file.is_file():
            return (
                f"FUSIONROOM_ENCRYPTION_KEYS is not set and there is no key file at {key_file}: with DEBUG "
                "off, FusionRoom will not invent an encryption key for stored provider keys. Generate one "
                f"with `{MAKE_A_FERNET_KEY}`."
            )
        keys = [line.strip() for line in key_file.read_text().splitlines() if line.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            return f"Encryption key #{position} is not a Fernet key. Generate one with `{MAKE_A_FERNET_KEY}`."
    return None


def allowed_hosts_problem(hosts: Sequence[str]) -> str | None:
    if not hosts:
        return (
            "DJANGO_ALLOWED_HOSTS is not set: name the host names this site answers to, "
            "comma-separated (e.g. fusionroom.example)."
        )
    if "*" in hosts:
        return "DJANGO_ALLOWED_HOSTS must name the site's hosts, not '*'."
    return None


def proxy_ssl_header(header: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto` → Django's ("HTTP_X_FORWARDED_PROTO", "https"); empty → None.

    Only for a proxy that always sets (or strips) that header: otherwise a client could send it
    and pass plain HTTP off as HTTPS.
    """
    header = header.strip()
    if not header:
        return None
    if not all(char.isalnum() or char == "-" for char in header):
        raise ImproperlyConfigured(f"DJANGO_SECURE_PROXY_SSL_HEADER must be a header name; got {header!r}")
    return f"HTTP_{header.upper().replace('-', '_')}", "https"


def development_secret_key(path: Path) -> str:
    """The key kept in `path`, made on first use (mode 0600): sessions survive restarts, and no
    two checkouts share a key that is written down anywhere."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: another process
        # starting at the same moment sees either no file or the complete key, and one key wins.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(64) + "\n")
        try:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"The secret key file {path} is empty: delete it to have a new one made.")
    return key
