"""Encryption at rest for provider keys: Fernet tokens under a MultiFernet of the configured keys.

FUSIONROOM_ENCRYPTION_KEYS lists Fernet keys, comma-separated: the first encrypts, every one
decrypts, so a new key goes first and an old one is dropped once `manage.py
rotate_encryption_keys` has re-encrypted everything. With no variable, the keys come from a local
file (one per line), which development creates on first use; production refuses to start without
either (see fusionroom/settings.py).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables


class KeyUnavailable(Exception):
    """A stored key that none of the configured encryption keys can decrypt.

    It fails closed: the caller gets this, never an empty or garbled key. The cure is to enter
    the key again (or to put the encryption key that wrote it back in the configuration).
    """

    user_message = "Your stored key can no longer be read; please enter it again."

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint
        where = f" for endpoint {endpoint!r}" if endpoint else ""
        super().__init__(f"The stored API key{where} cannot be decrypted with any configured encryption key.")


_file_lock = threading.Lock()


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def encryption_keys() -> tuple[str, ...]:
    """The configured Fernet keys, newest first: the setting, else the key file."""
    configured = tuple(key.strip() for key in settings.FUSIONROOM_ENCRYPTION_KEYS if key.strip())
    if configured:
        return configured
    return _keys_from_file(Path(settings.FUSIONROOM_ENCRYPTION_KEY_FILE), create=settings.DEBUG)


def _keys_from_file(path: Path, *, create: bool) -> tuple[str, ...]:
    with _file_lock:
        if not path.exists():
            if not create:
                raise ImproperlyConfigured(
                    f"No encryption key: set FUSIONROOM_ENCRYPTION_KEYS (or create {path}); "
                    "DEBUG is off, so none is generated."
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 from the start, not chmod-ed after: no moment when others can read it.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(generate_key() + "\n")
        keys = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not keys:
        raise ImproperlyConfigured(f"The encryption key file {path} is empty.")
    return keys


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # Which key, never the key itself.
            raise ImproperlyConfigured(
                f"Encryption key #{position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None
    return MultiFernet(fernets)


def _cipher() -> MultiFernet:
    return _multi_fernet(encryption_keys())


@sensitive_variables()
def encrypt(plaintext: str) -> str:
    """A Fernet token of the text under the first configured key."""
    return _cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


@sensitive_variables()
def decrypt(token: str, *, endpoint: str | None = None) -> str:
    """The text of a token; KeyUnavailable if no configured key opens it."""
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise KeyUnavailable(endpoint) from None


@sensitive_variables()
def rotate(token: str, *, endpoint: str | None = None) -> str:
    """The token re-encrypted under the first key; KeyUnavailable if no configured key opens it."""
    try:
        return _cipher().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise KeyUnavailable(endpoint) from None
