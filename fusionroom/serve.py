"""`python -m fusionroom.serve [daphne's options] fusionroom.asgi:application`: Daphne, with share
tokens redacted from its access log (fusionroom/logs.py), after a line saying where to open it.
Daphne writes that log itself, to a stream and not through `logging`, so the LOGGING filter
cannot reach it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import daphne.cli  # type: ignore[import-untyped]

from fusionroom.logs import RedactingAccessLog

# Listening on every interface: this machine reaches it on loopback.
_EVERY_INTERFACE = {"0.0.0.0", "::", "[::]"}


def _option(argv: Sequence[str], short: str, long: str, default: str) -> str:
    """The value of Daphne's option `short`/`long` in argv (`-p 80`, `--port 80`, `--port=80`)."""
    value = default
    for position, argument in enumerate(argv):
        if argument in (short, long) and position + 1 < len(argv):
            value = argv[position + 1]
        elif argument.startswith(f"{long}="):
            value = argument.split("=", 1)[1]
    return value


def address_to_open(argv: Sequence[str]) -> str | None:
    """The URL a person opens for Daphne started with `argv` (its defaults: 127.0.0.1, port 8000),
    or None when it picks its own port (`-p 0`) or the port is not a number."""
    port = _option(argv, "-p", "--port", "8000")
    if not port.isdigit() or int(port) == 0:
        return None
    host = _option(argv, "-b", "--bind", "127.0.0.1")
    host = "127.0.0.1" if host in _EVERY_INTERFACE else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{int(port)}/"


def _this_python() -> str:
    # As the person would type it from the checkout: .venv/bin/python, not an absolute path.
    python = Path(sys.executable)
    return str(python.relative_to(Path.cwd())) if python.is_relative_to(Path.cwd()) else str(python)


def banner(argv: Sequence[str]) -> str:
    """What `make run` says before serving: where to open FusionRoom, and how to get into /admin/."""
    address = address_to_open(argv)
    if address is None:
        return ""
    return (
        f"FusionRoom is at {address} — sign up there, or make an admin with: "
        f"{_this_python()} manage.py createsuperuser (and sign in at {address}admin/)"
    )


def main() -> None:
    if text := banner(sys.argv[1:]):
        print(text, flush=True)
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
