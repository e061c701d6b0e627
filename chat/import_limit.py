"""Imports and forks counted per user in Django's cache: each writes a whole conversation, so a
user makes at most FUSIONROOM_MAX_IMPORTS of them in FUSIONROOM_IMPORT_WINDOW_SECONDS.

The counter starts with the first attempt and lasts the window; a refused attempt counts too and
never extends it. Like accounts/signin_limit.py it lives in the default cache: per process with
the local-memory cache, shared by every process once the cache is Redis.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.cache import cache


def _key(user: Any) -> str:
    return f"imports:user:{user.pk}"


def window_seconds() -> int:
    return int(settings.FUSIONROOM_IMPORT_WINDOW_SECONDS)


def take(user: Any) -> bool:
    """Count one import or fork of the user; False when the user has made enough for now."""
    key = _key(user)
    # add() starts the window and never extends it; incr() is atomic on Redis and under the
    # local-memory cache's lock.
    cache.add(key, 0, timeout=window_seconds())
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr(): this attempt starts a new window
        cache.add(key, 1, timeout=window_seconds())
        count = 1
    return int(count) <= settings.FUSIONROOM_MAX_IMPORTS


def refusal_message() -> str:
    minutes = max(1, round(window_seconds() / 60))
    return (
        f"You have imported or forked {settings.FUSIONROOM_MAX_IMPORTS} conversations recently, "
        f"the most for now: try again in up to {minutes} minutes."
    )


class Busy(Exception):
    """Every import slot stayed taken while this import waited; the message says so, for people."""


# An import that dies with its slot taken frees it after this long (longer than any import takes).
SLOT_SECONDS = 10 * 60
SLOT_WAIT_SECONDS = 30.0


@contextmanager
def writing_slot(wait_seconds: float = SLOT_WAIT_SECONDS) -> Iterator[None]:
    """One of FUSIONROOM_CONCURRENT_IMPORTS slots, server-wide, held while an import or fork writes.

    Imports write in short transactions, but several back to back would still keep SQLite's one
    write lock nearly always taken, and another user's save, retrying it, could wait in vain;
    one import at a time leaves it free at least half of the time (see export.import_document).
    """
    token = secrets.token_hex(8)
    deadline = time.monotonic() + wait_seconds
    while True:
        for number in range(max(1, settings.FUSIONROOM_CONCURRENT_IMPORTS)):
            key = f"imports:slot:{number}"
            if cache.add(key, token, timeout=SLOT_SECONDS):
                try:
                    yield
                finally:
                    if cache.get(key) == token:
                        cache.delete(key)
                return
        if time.monotonic() >= deadline:
            raise Busy("Other conversations are being imported right now: try again in a minute.")
        time.sleep(0.05)
