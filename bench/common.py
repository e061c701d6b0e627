"""Shared pieces: the scratch environment, percentiles, /proc readings, the simulated models."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

BUDGET = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
FIVE = [
    "qwen/qwen3-235b-a22b",
    "meta-llama/llama-4-maverick",
    "mistralai/mistral-medium-3",
    "moonshotai/kimi-k2.6",
    "deepseek/deepseek-v4-pro",
]
JUDGE = "google/gemini-3-flash-preview"
PROMPT = "How should a team of five plan a database migration?"
# The benchmark accounts' password (scratch databases only).
PASSWORD = "correct-horse-battery-9"


def app_env(database: Path, simulator_url: str) -> dict[str, str]:
    """The environment the app runs in: demo mode on the given simulator, one process, no Redis."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "fusionroom.settings",
            "DATABASE_URL": f"sqlite:///{database}",
            "FUSIONROOM_DEMO": "1",
            "FUSIONROOM_SIMULATOR_URL": simulator_url,
            "FUSIONROOM_RUN_WORKERS": "0",
            "DJANGO_DEBUG": "1",
            # The per-user limits are a product policy, not a capacity: lift them for load.
            "FUSIONROOM_MAX_CONCURRENT_RUNS": "10000",
            "FUSIONROOM_MAX_RUNS_PER_MINUTE": "100000",
            "FUSIONROOM_MAX_CONCURRENT_CALLS": "10000",
            "FUSIONROOM_MAX_CALLS_PER_MINUTE": "100000",
            "FUSIONROOM_RECOVER_RUNS": "0",
        }
    )
    return env


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def migrate(database: Path, simulator_url: str) -> None:
    database.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=app_env(database, simulator_url),
        check=True,
    )


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def pin(pid: int, cores: str) -> None:
    """Pin every thread of a process to `cores` ("0", "1", "0,1"): taskset -a, so that the
    threads it already has move too, and those it starts later inherit it."""
    subprocess.run(["taskset", "-a", "-pc", cores, str(pid)], check=True, stdout=subprocess.DEVNULL)
