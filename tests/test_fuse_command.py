"""`manage.py fuse` runs a whole fusion from the terminal, in demo mode."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chat.fusion.options import RunOptions
from chat.models import Panel, Run
from chat.simulator import SimulatorThread


def settings_base_dir() -> str:
    from django.conf import settings

    return str(settings.BASE_DIR)


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


# -- on the common path of every run (chat.runs) ------------------------------------------


def test_a_seat_that_first_answers_429_is_retried_and_answers(simulator: SimulatorThread) -> None:
    simulator.configure("moonshotai/kimi-k2.6", fault="rate_limit", fault_times=1, retry_after_s=0)

    output = fuse("How do I plan a migration?", "--preset", "budget")

    asked = [record.status for record in simulator.requests if record.model == "moonshotai/kimi-k2.6"]
    assert len(asked) == 2, asked  # refused once with 429, then asked again by the retry layer
    assert "failed" not in output.split("Consensus")[0]
    assert "Run done" in output


@pytest.mark.django_db(transaction=True)
def test_a_saved_panel_with_web_tools_is_run_and_saved_to_the_users_history(
    simulator: SimulatorThread, django_user_model: Any
) -> None:
    alice = django_user_model.objects.create_user("alice")
    Panel.objects.create(
        owner=alice,
        name="Two flashes",
        seats=["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"],
        judge="google/gemini-3-flash-preview",
    )

    fuse("What changed in Python 3.13?", "--user", "alice", "--panel", "two flashes", "--web", "--save")

    run = Run.objects.get(turn__conversation__owner=alice)
    assert run.status == Run.Status.DONE
    assert (run.panel_name, run.web_search) == ("Two flashes", True)
    assert run.turn.prompt == "What changed in Python 3.13?"
    assert [answer.model for answer in run.answers.all()] == [
        "google/gemini-3-flash-preview",
        "moonshotai/kimi-k2.6",
    ]
    assert all(answer.text for answer in run.answers.all())
    seat_requests = [r for r in simulator.requests if r.model == "moonshotai/kimi-k2.6"]
    assert "web_search" in {tool["function"]["name"] for tool in seat_requests[0].body.get("tools", [])}


def test_save_without_a_user_is_refused_in_one_line(simulator: SimulatorThread) -> None:
    with pytest.raises(CommandError, match="--save needs --user"):
        fuse("Hi", "--save")


@pytest.mark.django_db(transaction=True)
def test_a_saved_run_passes_the_same_start_gate(
    simulator: SimulatorThread, django_user_model: Any, settings: Any
) -> None:
    django_user_model.objects.create_user("alice")
    settings.FUSIONROOM_MAX_THREAD_CHARS = 10

    with pytest.raises(CommandError, match="too long to send"):
        fuse("A question longer than ten characters", "--user", "alice", "--save")
    assert not Run.objects.exists()


def test_on_a_database_never_migrated_it_migrates_and_prints_no_traceback(tmp_path: Any) -> None:
    # A fresh clone after `make test`: no db.sqlite3 yet. The command runs in a process of its own
    # on an empty SQLite file, as a person would start it.
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "FUSIONROOM_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "fusionroom.settings",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "fuse", "Hi", "--preset", "budget"],
        cwd=settings_base_dir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 0, done.stderr
    assert "Fused answer" in done.stdout


def test_auto_fuse_answers_a_short_question_alone(simulator: SimulatorThread) -> None:
    output = fuse("What is 2+2?", "--preset", "budget", "--auto-fuse", "--writer", "openai/gpt-5.5")

    assert [record.model for record in simulator.requests] == ["openai/gpt-5.5"]
    assert "Auto-fuse" in output and "answered without consulting the panel" in output
    assert "Seat 1" not in output and "Run done" in output


def test_auto_fuse_shows_the_query_the_panel_and_the_answer_from_its_analysis(
    simulator: SimulatorThread, presets: dict[str, Panel]
) -> None:
    question = "How should a team of five plan a database migration?"
    presets["Budget"].auto_fuse = True
    presets["Budget"].save()

    output = fuse(question, "--preset", "budget")

    assert f"Consulting the panel: {question}" in output
    for heading in ("Seat 1: google/gemini-3-flash-preview", "Consensus", "from the analysis", "Run done"):
        assert heading in output
    seat_requests = [record for record in simulator.requests if record.seat is not None]
    assert len(seat_requests) == len(presets["Budget"].seats)


# --- judging terms ---------------------------------------------------------------------------------

SLOW = "deepseek/deepseek-v4-pro"  # the Budget panel's third seat
JUDGE = "google/gemini-3-flash-preview"  # Budget's judge and writer, and its first seat


def release_once_the_writer_asks(simulator: SimulatorThread) -> threading.Thread:
    """Lets the held slow seat go once the writer has been asked (the judge model's third
    request: as the first seat, the judge, then the writer), from a thread of its own."""

    def release() -> None:
        simulator.wait_for_requests(3, model=JUDGE, timeout=30)
        simulator.release(SLOW)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def test_a_quorum_judges_without_the_slow_seat_and_shows_it_late(simulator: SimulatorThread) -> None:
    simulator.hold(SLOW)
    releasing = release_once_the_writer_asks(simulator)

    output = fuse(
        "How do I plan a migration?",
        "--preset",
        "budget",
        "--quorum",
        "2",
        "--deadline",
        "20",
        "--judge-instructions",
        "Check every date.",
    )
    releasing.join(timeout=5)

    assert "Judged on 2 of 3 seats at the quorum; late: #3 deepseek/deepseek-v4-pro" in output
    late_section = output.split("Late seats (kept, not judged)")[1]
    assert "Seat 3: deepseek/deepseek-v4-pro (late, not judged: done)" in late_section
    assert "Run done: Judged on 2 of 3 seats at its quorum; deepseek/deepseek-v4-pro answered" in output
    judge = next(r for r in simulator.requests if r.model == JUDGE and "response_format" in r.body)
    assert "Check every date." in str(judge.body["messages"])


def test_late_seats_can_be_stopped_at_the_quorum(simulator: SimulatorThread) -> None:
    simulator.hold(SLOW)

    output = fuse("How do I plan a migration?", "--preset", "budget", "--quorum", "2", "--late-seats", "stop")

    assert "Seat 3: deepseek/deepseek-v4-pro (late, not judged: stopped)" in output
    assert "deepseek/deepseek-v4-pro was stopped" in output and "Fused answer" in output


def test_instructions_a_system_prompt_and_seat_temperatures_reach_their_calls(
    simulator: SimulatorThread,
) -> None:
    fuse(
        "Rust or Go?",
        "--seat",
        "openai/gpt-5.5",
        "--seat",
        "openai/gpt-5.5",
        "--judge",
        "qwen/qwen3-235b-a22b",
        "--writer-instructions",
        "Write for a ten-year-old.",
        "--system-prompt",
        "You are a compiler engineer.",
        "--seat-temperature",
        "0.2,1.1",
        "--seat-seed",
        ",7",
    )

    seats = {r.seat: r.body for r in simulator.requests if r.seat is not None}
    assert (seats[0]["temperature"], seats[1]["temperature"], seats[1]["seed"]) == (0.2, 1.1, 7)
    assert "seed" not in seats[0] or seats[0]["seed"] is None
    assert all(body["messages"][0]["content"] == "You are a compiler engineer." for body in seats.values())
    writer = [r for r in simulator.requests if r.model == "qwen/qwen3-235b-a22b"][-1]
    assert "response_format" not in writer.body
    assert "Write for a ten-year-old." in str(writer.body["messages"])


def test_compare_only_shows_the_seats_and_asks_no_judge(simulator: SimulatorThread) -> None:
    output = fuse("How do I plan a migration?", "--preset", "budget", "--compare-only")

    assert sorted(r.seat for r in simulator.requests) == [0, 1, 2]  # the seats, and nobody else
    assert "Seat 3: deepseek/deepseek-v4-pro (done)" in output
    assert "Compare only" in output and "Fused answer" not in output


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--quorum", "1"], "--quorum"),
        (["--quorum", "4"], "--quorum"),  # Budget has three seats
        (["--deadline", "0"], "--deadline"),
        (["--judge-instructions", "x" * 4001], "--judge-instructions"),
        (["--seat-temperature", "0.2,3"], r"--seat-temperature \(seat 2\)"),
        (["--seat-effort", "low,max"], r"--seat-effort \(seat 2\)"),
        (["--seat-temperature", "1,1,1,1"], "--seat-temperature"),
    ],
)
def test_a_bad_judging_term_names_its_flag(simulator: SimulatorThread, flags: list[str], named: str) -> None:
    with pytest.raises(CommandError, match=named):
        fuse("Hi", "--preset", "budget", *flags)
    assert simulator.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_saved_run_keeps_its_judging_terms_over_its_panels_own(
    simulator: SimulatorThread, django_user_model: Any
) -> None:
    alice = django_user_model.objects.create_user("alice")
    Panel.objects.create(
        owner=alice,
        name="Two flashes",
        seats=["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"],
        judge="google/gemini-3-flash-preview",
        options=RunOptions(judge_instructions="Legal risk first.").stored(),
    )

    fuse(
        "Is this clause fair?",
        "--user",
        "alice",
        "--panel",
        "two flashes",
        "--save",
        "--writer-instructions",
        "Short.",
    )

    options = Run.objects.get(turn__conversation__owner=alice).run_options
    assert (options.judge_instructions, options.writer_instructions) == ("Legal risk first.", "Short.")
