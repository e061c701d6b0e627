"""Sign-up attempts counted per client address in Django's cache, like failed sign-ins.

Each attempt says whether a username is taken (it must: the person has to choose another), so
listing who has an account takes one attempt a name; past FUSIONROOM_SIGNUP_MAX_PER_IP attempts
within FUSIONROOM_SIGNUP_WINDOW_SECONDS, sign-up from that address is refused before the form
is read. The counter starts with the first attempt and is never extended.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache


def _key(address: str) -> str:
    return f"signup-attempts:addr:{address}"


def window_seconds() -> int:
    return int(settings.FUSIONROOM_SIGNUP_WINDOW_SECONDS)


def is_refused(address: str) -> bool:
    return int(cache.get(_key(address), 0)) >= settings.FUSIONROOM_SIGNUP_MAX_PER_IP


def record_attempt(address: str) -> None:
    key = _key(address)
    cache.add(key, 0, timeout=window_seconds())
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr(): this attempt starts a new window
        cache.add(key, 1, timeout=window_seconds())


def refusal_message() -> str:
    minutes = max(1, round(window_seconds() / 60))
    return f"Too many sign-up attempts from your network: try again in up to {minutes} minutes."
