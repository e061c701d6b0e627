"""Print pyproject.toml's dependencies, one a line, for `pip install -r`: the runtime ones, and
with `dev` the dev extra's as well.

The Makefile installs these rather than the project itself: FusionRoom runs from its checkout
(manage.py, `python -m`, pytest from the top directory), so nothing of it needs installing, and an
editable install would only add an import hook to the venv and a warning to every install.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def dependencies(*extras: str, pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return wanted


if __name__ == "__main__":
    print("\n".join(dependencies(*sys.argv[1:])))
