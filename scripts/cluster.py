"""FusionRoom as several processes on one machine: web processes, run workers, a load balancer.

    python scripts/cluster.py run [--port 8000] [--web 2] [--workers 2]   (make run-cluster)
    python scripts/cluster.py check [--flush-redis]                       (make test-cluster)

`run` uses PostgreSQL and Redis from DATABASE_URL and REDIS_URL (by default the local ones,
creating the database if it is missing), migrates, then starts the web processes (Daphne, each
on a free port of 127.0.0.1) and the run workers (`manage.py runworker fusion-runs`), and listens
on PORT itself: a round-robin TCP proxy, so websockets pass through untouched. A process that
exits is started again, as a supervisor would; Ctrl-C stops them all. For local use: production
puts a real proxy in front (docs/deploy.md).

`check` says whether PostgreSQL and Redis answer, and exits 1 when they do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fusionroom"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RESTART_AFTER = 1.0


def log(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


# -- PostgreSQL and Redis ------------------------------------------------------------------------


def _server_url(database_url: str) -> tuple[str, str]:
    """The URL of the server's maintenance database, and the name of the database."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def postgres_problem(database_url: str) -> str | None:
    server, _ = _server_url(database_url)
    try:
        with psycopg.connect(server, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL does not answer at {server}: {str(error).strip()}"


def redis_problem(redis_url: str) -> str | None:
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
        return None
    except redis.RedisError as error:
        return f"Redis does not answer at {redis_url}: {error}"


def create_database_if_missing(database_url: str) -> None:
    server, name = _server_url(database_url)
    with psycopg.connect(server, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log(f"created the database {name}")


def check(database_url: str, redis_url: str, *, wait: float, flush_redis: bool) -> int:
    """0 when both answer (retrying for `wait` seconds: a server may be starting), else 1."""
    give_up = time.monotonic() + wait
    while True:
        problems = [p for p in (postgres_problem(database_url), redis_problem(redis_url)) if p]
        if not problems or time.monotonic() >= give_up:
            break
        time.sleep(0.5)
    for problem in problems:
        log(problem)
    if problems:
        return 1
    if flush_redis:
        redis.Redis.from_url(redis_url).flushdb()
    log(f"PostgreSQL at {_server_url(database_url)[0]} and Redis at {redis_url} answer.")
    return 0


# -- the processes -------------------------------------------------------------------------------


LISTENING = re.compile(r"Listening on TCP address 127\.0\.0\.1:(\d+)")


@dataclass
class Child:
    """A web process or a worker, started again whenever it exits until the cluster stops."""

    name: str
    args: list[str]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    # Where a web process listens, once it says so (Daphne picks a free port: `-p 0`).
    port: int | None = None
    stopping: bool = False

    async def keep_running(self) -> None:
        while not self.stopping:
            self.process = await asyncio.create_subprocess_exec(
                *self.args,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C reaches the cluster, which stops the children in order.
                start_new_session=True,
            )
            assert self.process.stdout is not None
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip()
                if found := LISTENING.search(line):
                    self.port = int(found.group(1))
                print(f"[{self.name}] {line}", flush=True)
            self.port = None
            code = await self.process.wait()
            if not self.stopping:
                log(f"{self.name} exited with code {code}; starting it again in {RESTART_AFTER:g} s")
                await asyncio.sleep(RESTART_AFTER)

    async def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- the load balancer ---------------------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class RoundRobinProxy:
    """Hands each TCP connection to the next web process that accepts it; bytes pass untouched,
    so HTTP keep-alive and websockets work (a connection stays with the process it was given)."""

    def __init__(self, webs: list[Child]) -> None:
        self.webs = webs
        self._turns = itertools.cycle(range(len(webs)))

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        for _ in self.webs:
            port = self.webs[next(self._turns)].port
            if port is None:
                continue  # starting, or started again after it exited
            try:
                backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer))


# -- run -----------------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> None:
    """Migrate, and make development's key files once, before several processes race to."""
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    touch_keys = "from chat.endpoints.crypto import encryption_keys; encryption_keys()"
    subprocess.run([PYTHON, "manage.py", "shell", "-v", "0", "-c", touch_keys], cwd=ROOT, env=env, check=True)


async def run_cluster(host: str, port: int, webs: int, workers: int, env: dict[str, str]) -> None:
    daphne = [PYTHON, "-m", "fusionroom.serve", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"]
    web_children = [Child(f"web-{n}", daphne, env) for n in range(1, webs + 1)]
    worker = [PYTHON, "manage.py", "runworker", "fusion-runs"]
    children = web_children + [Child(f"worker-{n}", worker, env) for n in range(1, workers + 1)]
    tasks = [asyncio.create_task(child.keep_running()) for child in children]
    server = await asyncio.start_server(RoundRobinProxy(web_children).handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    log(f"Listening on http://{host}:{bound} ({webs} web processes, {workers} run workers); Ctrl-C stops")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log("stopping")
    server.close()
    await asyncio.gather(*(child.stop() for child in children))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the web processes, the workers and the load balancer")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000, help="where the load balancer listens (0: any)")
    run.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    run.add_argument("--workers", type=int, default=2, help="run workers (default 2)")
    checking = commands.add_parser("check", help="exit 0 when PostgreSQL and Redis answer")
    checking.add_argument("--wait", type=float, default=10.0, help="seconds to keep trying (default 10)")
    checking.add_argument("--flush-redis", action="store_true", help="then empty the Redis database")
    for command in (run, checking):
        command.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
        command.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    options = parser.parse_args()

    if options.command == "check":
        return check(
            options.database_url, options.redis_url, wait=options.wait, flush_redis=options.flush_redis
        )

    if not options.database_url.startswith(("postgres://", "postgresql://")):
        parser.error(f"a cluster needs PostgreSQL, not {options.database_url}")
    if check(options.database_url, options.redis_url, wait=0, flush_redis=False):
        return 1
    create_database_if_missing(options.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": options.database_url,
        "REDIS_URL": options.redis_url,
        "FUSIONROOM_RUN_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    prepare(env)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_cluster(options.host, options.port, options.web, options.workers, env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
