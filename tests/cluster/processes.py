"""Child processes for tests that need real servers: Daphne web processes and run workers."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """A child process whose output is kept in a log file and can be waited on, line by line."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, name=f"log-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.log.open("w") as log:
            for line in self.popen.stdout:
                log.write(line)
                log.flush()
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first line of output matching `pattern`; fails if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = 0
            while True:
                for line in self._lines[seen:]:
                    if found := re.search(pattern, line):
                        return found
                seen = len(self._lines)
                if self.popen.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self.popen.returncode}); see {self.log}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} never printed {pattern!r}; see {self.log}")
                self._changed.wait(min(left, 0.5))

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a crash or the OOM killer."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=10)


class WebProcess(Process):
    url: str

    @classmethod
    def at(cls, url: str) -> WebProcess:
        """Something else serving the site at `url` (the cluster's load balancer), as a web process."""
        web = cls.__new__(cls)
        web.url = url
        return web

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


def database_url(settings_dict: dict[str, Any]) -> str:
    """The DATABASE_URL of a connection's settings: for a child process to use the database this
    test session uses (the test database pytest-django made), SQLite or PostgreSQL."""
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


class Cluster:
    """Starts web processes and run workers on the session's database, Redis and simulator."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[Process] = []

    def _name(self, kind: str) -> str:
        return f"{kind}-{sum(p.name.startswith(kind) for p in self.processes) + 1}"

    def web(self) -> WebProcess:
        name = self._name("web")
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "fusionroom.asgi:application"]
        process = WebProcess(name, args, self.env, self.logs / f"{name}.log")
        self.processes.append(process)
        port = process.wait_for_line(r"Listening on TCP address 127\.0\.0\.1:(\d+)").group(1)
        process.url = f"http://127.0.0.1:{port}"
        return process

    def worker(self) -> Process:
        name = self._name("worker")
        args = [sys.executable, "manage.py", "runworker", "fusion-runs"]
        process = Process(name, args, self.env, self.logs / f"{name}.log")
        self.processes.append(process)
        process.wait_for_line(r"Running worker for channels")
        return process

    def launcher(self, *, web: int, workers: int) -> Process:
        """`scripts/cluster.py run` (make run-cluster), its load balancer on a free port."""
        args = [sys.executable, "scripts/cluster.py", "run", "--port", "0"]
        args += ["--web", str(web), "--workers", str(workers)]
        process = Process("launcher", args, self.env, self.logs / "launcher.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
