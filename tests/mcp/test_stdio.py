"""`manage.py mcp --user NAME`: who it serves, and what it refuses to start for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cluster.processes import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def serve(server_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command run with no client: stdin is closed at once."""
    return subprocess.run(
        [sys.executable, "manage.py", "mcp", *args],
        cwd=ROOT,
        env={**os.environ, **server_env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_user_is_refused_with_exit_code_2(server_env, live):
    done = serve(server_env, "--user", "nobody")

    assert done.returncode == 2
    assert "No user called 'nobody'." in done.stderr
    assert done.stdout == ""


def test_an_inactive_user_is_refused_with_exit_code_2(server_env, alice):
    alice.is_active = False
    alice.save()

    done = serve(server_env, "--user", "alice")

    assert done.returncode == 2
    assert "The user 'alice' is inactive" in done.stderr
    assert done.stdout == ""


def test_a_client_that_closes_its_end_ends_the_server_quietly(server_env, alice):
    done = serve(server_env, "--user", "alice")

    assert (done.returncode, done.stdout) == (0, "")
