"""Benchmark 4 on the scale-out configuration: `make run-cluster`'s processes (two Daphne web
processes, two run workers) on PostgreSQL and Redis, on the same two cores.

The clients talk to the web processes directly, in turn (each run's POST and page through one,
its websocket through the other), not through scripts/cluster.py's balancer: that balancer is a
convenience for local use, a Python process copying every byte, where production has a real proxy.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from bench.common import ROOT, app_env

DATABASE = "fusionroom_bench"
SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/13"
WEB_LISTENING = re.compile(r"\[(web-\d+)\] .*Listening on TCP address 127\.0\.0\.1:(\d+)")
WORKER_READY = re.compile(r"\[(worker-\d+)\] .*Running worker for channels")


def unavailable() -> str | None:
    """Why the scale-out configuration cannot run here, or None."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3):
            pass
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as error:
        return f"PostgreSQL or Redis does not answer: {error}"
    return None


class Cluster:
    """scripts/cluster.py run, on a fresh database and an empty Redis database."""

    def __init__(self, simulator_url: str, log: Path, *, webs: int = 2, workers: int = 2) -> None:
        with psycopg.connect(SERVER_URL, autocommit=True) as connection:
            name = sql.Identifier(DATABASE)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        redis.Redis.from_url(REDIS_URL).flushdb()
        self.env = {
            **app_env(Path("/unused"), simulator_url),
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "FUSIONROOM_RUN_WORKERS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        args = [sys.executable, "scripts/cluster.py", "run", "--port", "0", "--web", str(webs)]
        self.process = subprocess.Popen(
            [*args, "--workers", str(workers)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        ports: dict[str, int] = {}
        ready: set[str] = set()
        for line in self.process.stdout:
            if found := WEB_LISTENING.search(line):
                ports[found.group(1)] = int(found.group(2))
            elif found := WORKER_READY.search(line):
                ready.add(found.group(1))
            if len(ports) == webs and len(ready) == workers:
                break
        else:
            raise RuntimeError(f"the cluster did not start (exit code {self.process.poll()})")
        self.urls = [f"http://127.0.0.1:{port}" for _, port in sorted(ports.items())]
        # What was measured, for the report.
        self.layout = {
            "database": DATABASE_URL,
            "redis": REDIS_URL,
            "web_processes": webs,
            "workers": workers,
        }
        self.drain = subprocess.Popen(["cat"], stdin=self.process.stdout, stdout=log.open("w"))

    def pids(self) -> list[int]:
        """The web processes and workers (the launcher's children), for their CPU."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        self.process.send_signal(2)  # Ctrl-C: the launcher stops its children in order
        self.process.wait(timeout=30)
        self.drain.wait(timeout=10)
