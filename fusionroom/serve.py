"""`python -m fusionroom.serve [daphne's options] fusionroom.asgi:application`: Daphne, with share
tokens redacted from its access log (fusionroom/logs.py). Daphne writes that log itself, to a
stream and not through `logging`, so the LOGGING filter cannot reach it."""

from __future__ import annotations

import daphne.cli  # type: ignore[import-untyped]

from fusionroom.logs import RedactingAccessLog


def main() -> None:
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    daphne.cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
