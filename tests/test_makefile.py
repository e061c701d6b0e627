"""`make run` installs only what serving needs and prints where to open it; `make test` adds the dev tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fusionroom.serve import address_to_open, banner
from scripts.dependencies import dependencies

ROOT = Path(__file__).resolve().parents[1]
DEV_ONLY = ("pytest", "playwright", "mypy", "ruff", "hypothesis")


def planned(target: str, venv: Path) -> list[str]:
    """The commands `make TARGET` would run on a machine with no venv yet (make -n runs none)."""
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def installs(commands: list[str]) -> list[str]:
    return [line for line in commands if "pip install" in line or "scripts/dependencies.py" in line]


def test_make_run_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    commands = installs(planned("run", tmp_path / "venv"))

    assert any("requirements-runtime.txt" in line for line in commands)
    assert not any("dev" in line for line in commands)
    assert not any(" -e " in line or "'.[" in line for line in commands)


@pytest.mark.parametrize("target", ["test", "lint", "bench"])
def test_the_targets_that_test_lint_or_measure_install_the_dev_extra(target: str, tmp_path: Path) -> None:
    commands = installs(planned(target, tmp_path / "venv"))

    assert any("scripts/dependencies.py dev" in line for line in commands)
    assert not any(" -e " in line for line in commands)  # the project itself runs from the checkout


def test_the_runtime_dependencies_hold_no_dev_tool() -> None:
    runtime = " ".join(dependencies()).lower()

    assert "django" in runtime and "daphne" in runtime
    assert not any(tool in runtime for tool in DEV_ONLY)


def test_the_dev_dependencies_add_the_test_and_lint_tools() -> None:
    dev = " ".join(dependencies("dev")).lower()

    assert all(tool in dev for tool in DEV_ONLY)
    assert set(dependencies()) < set(dependencies("dev"))


def test_serving_says_which_address_to_open_and_how_to_make_an_admin() -> None:
    text = banner(["-b", "127.0.0.1", "-p", "8000", "fusionroom.asgi:application"])

    assert text.startswith("FusionRoom is at http://127.0.0.1:8000/ — sign up there")
    assert "manage.py createsuperuser" in text and "http://127.0.0.1:8000/admin/" in text


def test_listening_on_every_interface_points_at_loopback_to_open() -> None:
    assert address_to_open(["-b", "0.0.0.0", "-p", "9000", "app"]) == "http://127.0.0.1:9000/"
    assert address_to_open(["-b", "::1", "-p", "9000", "app"]) == "http://[::1]:9000/"


def test_a_server_on_a_port_of_its_choosing_says_nothing() -> None:
    assert banner(["-b", "127.0.0.1", "-p", "0", "app"]) == ""


def test_the_server_prints_the_address_before_daphne_starts() -> None:
    # --help: Daphne prints its usage and exits instead of serving.
    command = [sys.executable, "-m", "fusionroom.serve", "-b", "0.0.0.0", "-p", "8765", "--help"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    first, *rest = result.stdout.splitlines()
    assert first.startswith("FusionRoom is at http://127.0.0.1:8765/")
    assert any("usage:" in line for line in rest)


def test_the_address_is_read_from_either_spelling_of_daphnes_options() -> None:
    assert address_to_open(["--bind=10.0.0.5", "--port", "8001", "app"]) == "http://10.0.0.5:8001/"
    assert address_to_open(["app"]) == "http://127.0.0.1:8000/"
    assert address_to_open(["-p", "not-a-port", "app"]) is None
