"""Real processes against PostgreSQL and Redis: web processes (Daphne), run workers, a simulator.

These tests run only when the suite itself runs on PostgreSQL and Redis (`make test-cluster`);
elsewhere they are skipped, which CI turns into a failure (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import connection

from chat.simulator import SimulatorThread
from tests.cluster.processes import Cluster, database_url
from tests.conftest import TEST_ENCRYPTION_KEY

# Short clocks, so that a dead worker's runs are swept in seconds: a beat every 0.5 s, silent
# for 3 s is dead, a sweep every 0.5 s.
HEARTBEAT_ENV = {
    "FUSIONROOM_HEARTBEAT_SECONDS": "0.5",
    "FUSIONROOM_HEARTBEAT_STALE_SECONDS": "3",
    "FUSIONROOM_SWEEP_SECONDS": "0.5",
}


def cluster_unavailable() -> str | None:
    """Why the cluster tests cannot run here, or None when they can."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "the suite is not running on PostgreSQL (make test-cluster sets DATABASE_URL)"
    if not settings.REDIS_URL:
        return "the suite is not running on Redis (make test-cluster sets REDIS_URL)"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {settings.REDIS_URL} does not answer: {error}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)
            reason = reason or cluster_unavailable() or ""
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A simulator of this test's own (its request log starts empty), fast but really streaming."""
    with SimulatorThread(time_scale=0.1) as simulator:
        yield simulator
        simulator.release()


@pytest.fixture
def cluster(
    transactional_db: None, sim: SimulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """No process yet: each test starts the web processes and workers it needs."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "FUSIONROOM_RUN_WORKERS": "1",
        "FUSIONROOM_DEMO": "1",
        "FUSIONROOM_SIMULATOR_URL": sim.base_url,
        "FUSIONROOM_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        # One key for every process: a session signed by one is valid on the others.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
        **HEARTBEAT_ENV,
    }
    # A clean slate: nothing another test (or session, whose run ids may repeat) left in Redis.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    logs = tmp_path_factory.mktemp("cluster")
    print(f"The cluster's logs: {logs}")
    cluster = Cluster(env, logs)
    yield cluster
    cluster.stop()
