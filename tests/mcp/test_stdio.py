"""`manage.py mcp --user NAME`: who it serves, and what it refuses to start for."""

from __future__ import annotations

import json
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


def test_nothing_but_the_protocol_is_written_on_stdout_while_a_run_goes(
    server_env, alice, live, sim, tmp_path
):
    log = (tmp_path / "stderr").open("w+")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "mcp", "--user", "alice"],
        cwd=ROOT,
        env={**os.environ, **server_env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,  # a file, not a pipe: nothing reads it until the end
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    arguments = {"question": "Why is the sky blue?"}
    for message in [
        {
            "method": "initialize",
            "id": 1,
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"method": "notifications/initialized"},
        {
            "method": "tools/call",
            "id": 2,
            "params": {"name": "fuse", "arguments": arguments, "_meta": {"progressToken": "p"}},
        },
    ]:
        server.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        server.stdin.flush()

    lines = []
    while not lines or lines[-1].get("id") != 2:
        lines.append(json.loads(server.stdout.readline()))  # each line a JSON-RPC message, or this fails
    server.stdin.close()

    assert server.wait(timeout=30) == 0
    assert server.stdout.read() == ""
    assert all(line["jsonrpc"] == "2.0" for line in lines)
    assert any(line.get("method") == "notifications/progress" for line in lines)
    assert not lines[-1]["result"]["isError"] and lines[-1]["result"]["structuredContent"]["answer"]
    log.seek(0)
    assert "Traceback" not in log.read()
