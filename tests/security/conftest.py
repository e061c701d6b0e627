"""Fixtures of the security tests: the access table's world, and a clean cache for sign-in counters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

# alice's conversation, run, panel, endpoint, key and share link, as the access table builds them.
from tests.test_access import world  # noqa: F401


@pytest.fixture(autouse=True)
def clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
