"""Failed sign-ins counted per username and per client address in Django's cache, to slow down guessing.

A counter starts with the first failure and lasts the window (FUSIONROOM_SIGNIN_WINDOW_SECONDS);
once it reaches its limit, sign-in for that username, or from that address, is refused without
the password being checked, until the counter expires. A success clears the username's counter.
The address limit is higher: one office or NAT may sign in many people.

It guards every sign-in that goes through `authenticate()` with a request — our sign-in page
and the admin's alike: `SignInLimitBackend` (Django's ModelBackend, in its place in
AUTHENTICATION_BACKENDS) refuses before any password is checked, and the receivers below count
failures and clear a counter on success. The sign-in page also checks first, to say why
instead of "wrong password".

The counters live in the default cache: per process with the local-memory cache, shared by
every process once the cache is Redis. Usernames are hashed and lowercased, so the cache holds
no list of who tried to sign in, and "Alice" and "alice" share one counter.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address: the last entry of the proxy's header when one is configured (the
    entry that proxy added itself; earlier ones are whatever the client claimed)."""
    header = settings.FUSIONROOM_CLIENT_IP_HEADER
    if header:
        value = request.headers.get(header, "")
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if entries:
            return entries[-1]
    return str(request.META.get("REMOTE_ADDR", ""))


def _username_key(username: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"signin-failures:user:{digest}"


def _address_key(address: str) -> str:
    return f"signin-failures:addr:{address}"


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    counters = [(_address_key(address), settings.FUSIONROOM_SIGNIN_MAX_FAILURES_PER_IP)]
    if username.strip():
        counters.append((_username_key(username), settings.FUSIONROOM_SIGNIN_MAX_FAILURES))
    return counters


def is_refused(username: str, address: str) -> bool:
    """Whether this username or this address has used up its failed attempts for now."""
    counters = _counters(username, address)
    counts = cache.get_many([key for key, _ in counters])
    return any(counts.get(key, 0) >= limit for key, limit in counters)


def record_failure(username: str, address: str) -> None:
    for key, _ in _counters(username, address):
        # add() starts the window with the first failure and never extends it; incr() is atomic
        # on Redis and under the local-memory cache's lock.
        cache.add(key, 0, timeout=window_seconds())
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr(): this failure starts a new window
            cache.add(key, 1, timeout=window_seconds())


def record_success(username: str) -> None:
    cache.delete(_username_key(username))


def window_seconds() -> int:
    return int(settings.FUSIONROOM_SIGNIN_WINDOW_SECONDS)


def refusal_message() -> str:
    minutes = max(1, round(window_seconds() / 60))
    return (
        "Too many failed sign-in attempts for this account or from your network. "
        f"Sign-in is paused: try again in up to {minutes} minutes."
    )


class SignInLimitBackend(ModelBackend):
    """Django's username-and-password backend, which refuses (PermissionDenied: no other backend
    is tried either) while the limit is reached, before any password is checked."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if request is not None and is_refused(username or "", client_address(request)):
            raise PermissionDenied(refusal_message())
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def count_a_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if request is not None:
        record_failure(str(credentials.get("username") or ""), client_address(request))


@receiver(user_logged_in)
def clear_after_signing_in(sender: type[User], user: User, **kwargs: Any) -> None:
    record_success(user.get_username())
