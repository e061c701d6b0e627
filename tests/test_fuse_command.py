"""`manage.py fuse` runs a whole fusion from the terminal, in demo mode."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chat.models import Panel
from chat.simulator import SimulatorThread


@pytest.fixture
def simulator(settings: Any, presets: dict[str, Panel]) -> Iterator[SimulatorThread]:
    with SimulatorThread(time_scale=0) as sim:
        settings.FUSIONROOM_DEMO = True
        settings.FUSIONROOM_SIMULATOR_URL = sim.base_url
        yield sim


def fuse(*args: str) -> str:
    out = StringIO()
    call_command("fuse", *args, stdout=out)
    return out.getvalue()


def test_it_prints_every_seat_the_analysis_and_the_fused_answer(simulator: SimulatorThread) -> None:
    output = fuse("How do I plan a migration?", "--preset", "budget")
    for heading in ("Seat 1: google/gemini-3-flash-preview", "Consensus", "Blind spots", "Fused answer"):
        assert heading in output
    assert "Demo mode" in output and "Run done" in output and "Total:" in output


def test_it_takes_seats_and_a_judge_from_the_command_line(simulator: SimulatorThread) -> None:
    fuse(
        "Rust or Go?",
        "--seat",
        "openai/gpt-5.5",
        "--seat",
        "openai/gpt-5.5",
        "--judge",
        "qwen/qwen3-235b-a22b",
    )
    models = [record.model for record in simulator.requests]
    assert models[:2] == ["openai/gpt-5.5", "openai/gpt-5.5"]
    assert models[2] == "qwen/qwen3-235b-a22b"


def test_it_refuses_a_panel_of_one(simulator: SimulatorThread) -> None:
    with pytest.raises(CommandError, match="2 to 8 seats"):
        fuse("Hi", "--seat", "openai/gpt-5.5", "--judge", "openai/gpt-5.5")


def test_it_names_a_model_the_endpoint_does_not_offer(simulator: SimulatorThread) -> None:
    with pytest.raises(CommandError, match="no-such/model"):
        fuse("Hi", "--seat", "openai/gpt-5.5", "--seat", "no-such/model", "--judge", "openai/gpt-5.5")


def test_it_names_the_presets_when_asked_for_one_that_does_not_exist(simulator: SimulatorThread) -> None:
    with pytest.raises(CommandError, match="budget"):
        fuse("Hi", "--preset", "platinum")


def test_it_uses_a_preset_as_edited_in_the_admin(
    simulator: SimulatorThread, presets: dict[str, Panel]
) -> None:
    presets["Budget"].seats = ["openai/gpt-5.5", "moonshotai/kimi-k2.6"]
    presets["Budget"].save()
    fuse("Hi", "--preset", "budget")
    assert [record.model for record in simulator.requests[:2]] == ["openai/gpt-5.5", "moonshotai/kimi-k2.6"]
