"""An evaluation's world: alice, the presets, the simulator playing every model, a small suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from chat.evaluation.models import EvalSuite
from chat.evaluation.suites import Suite, read_suite
from chat.models import Panel
from chat.simulator import SimulatorThread

STARTER = Path(__file__).resolve().parents[2] / "chat" / "evaluation" / "examples" / "starter.jsonl"
# No system under test has it: it may grade them all.
GRADER = "mistralai/mistral-medium-3"


def starter(tasks: int | None = None) -> Suite:
    suite = read_suite(STARTER.read_bytes(), STARTER.name)
    return suite if tasks is None else Suite(tasks=suite.tasks[:tasks])


@pytest.fixture
def simulator(settings: Any, presets: dict[str, Panel]) -> Iterator[SimulatorThread]:
    """The simulator as every model (seats, judges, the grader), instantly; the run limits
    loose enough that the gate never makes an evaluation wait."""
    with SimulatorThread(time_scale=0) as sim:
        settings.FUSIONROOM_DEMO = True
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        settings.FUSIONROOM_MAX_RUNS_PER_MINUTE = 10_000
        settings.FUSIONROOM_MAX_CONCURRENT_RUNS = 8
        yield sim


@pytest.fixture
def three_tasks(alice: User) -> EvalSuite:
    row = EvalSuite.of(alice, "starter", starter(3), "starter.jsonl")
    row.save()
    return row
