"""The start gate's rules behind the composer: no follow-up while a run goes, and an edited last
prompt asked again as a new run of its turn, the earlier runs kept with the prompts they asked."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from chat.endpoints.catalog import TYPICAL_PROMPT_TOKENS
from chat.models import Conversation, Panel, Run, Turn
from chat.runs import execution
from chat.runs.creation import create_retry
from chat.runs.gate import LimitReached, estimate, prompt_tokens
from chat.runs.lifecycle import BUSY_FOLLOW_UP, BUSY_TURN, NOT_LAST_TURN, Ask, Edit, Rerun, RunBusy, open_run
from tests.conftest import saved_rows
from tests.fakes import JUDGE, SEATS, WRITER
from tests.runs.test_start_gate_races import priced_catalog

pytestmark = pytest.mark.django_db

ORIGINAL = "Why is the sky blue?"
EDITED = "Why is the sky blue at noon and red at dusk?"


def ended(run: Run, fused: str = "Rayleigh scattering.") -> Run:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, fused_text=fused)
    run.refresh_from_db()
    return run


def panel_of(run: Run) -> Panel:
    assert run.panel is not None
    return run.panel


def edit(user: User, run: Run, prompt: str = EDITED) -> Run:
    return open_run(user, Edit(run.turn, prompt, panel_of(run)), catalog=None).run


# -- a follow-up waits for the run before it ----------------------------------------------------


def test_a_follow_up_while_the_conversations_last_run_goes_is_refused_and_saves_nothing(
    alice: User, alice_run: Run
) -> None:
    before = saved_rows()

    with pytest.raises(RunBusy) as refused:
        open_run(alice, Ask(alice_run.turn.conversation, "And then?", panel_of(alice_run)), catalog=None)

    assert refused.value.message == BUSY_FOLLOW_UP
    assert saved_rows() == before


def test_a_follow_up_after_the_run_ended_starts(alice: User, alice_run: Run) -> None:
    ended(alice_run)

    opened = open_run(alice, Ask(alice_run.turn.conversation, "And then?", panel_of(alice_run)), catalog=None)

    assert opened.run.turn.position == 1 and opened.run.is_running


def test_a_new_conversation_is_not_held_up_by_a_run_going_in_another(alice: User, alice_run: Run) -> None:
    opened = open_run(alice, Ask(None, "Something else?", panel_of(alice_run)), catalog=None)

    assert opened.conversation != alice_run.turn.conversation


# -- edit the last prompt and ask again --------------------------------------------------------


def test_an_edit_starts_a_run_of_the_same_turn_with_the_edited_prompt(alice: User, alice_run: Run) -> None:
    first = ended(alice_run)

    second = edit(alice, first)

    assert second.turn_id == first.turn_id
    assert second.retry_of_id == first.pk
    assert second.asked_prompt() == EDITED and second.is_edit
    assert Turn.objects.get(pk=first.turn_id).prompt == ORIGINAL
    assert Run.objects.get(pk=first.pk).asked_prompt() == ORIGINAL


def test_the_edited_run_is_sent_the_edited_prompt(alice: User, alice_run: Run) -> None:
    second = edit(alice, ended(alice_run))

    assert execution.load(second.pk).messages[-1] == {"role": "user", "content": EDITED}


def test_an_edit_of_a_prompt_that_is_not_the_last_is_refused(alice: User, alice_run: Run) -> None:
    first = ended(alice_run)
    follow_up = open_run(alice, Ask(first.turn.conversation, "And then?", panel_of(first)), catalog=None).run
    ended(follow_up)
    before = saved_rows()

    with pytest.raises(LimitReached, match=NOT_LAST_TURN):
        edit(alice, first)

    assert saved_rows() == before


def test_an_edit_while_the_turns_run_goes_is_refused(alice: User, alice_run: Run) -> None:
    with pytest.raises(RunBusy, match=BUSY_TURN):
        edit(alice, alice_run)


def test_an_edit_passes_the_budget_gate_with_the_edited_prompts_length(
    alice: User, alice_run: Run, settings: Any
) -> None:
    first = ended(alice_run)
    settings.FUSIONROOM_MAX_THREAD_CHARS = 1_000

    with pytest.raises(LimitReached, match="too long to send"):
        edit(alice, first, "x" * 1_001)


def test_a_retry_of_an_edited_run_asks_the_edited_prompt_again(alice: User, alice_run: Run) -> None:
    second = ended(edit(alice, ended(alice_run)))

    retry = create_retry(second, simulated=False)

    assert retry.asked_prompt() == EDITED and not retry.is_edit


def test_a_rerun_after_an_edit_asks_the_edited_prompt(alice: User, alice_run: Run) -> None:
    second = ended(edit(alice, ended(alice_run)))

    rerun = open_run(alice, Rerun(second.turn, panel_of(second)), catalog=None).run

    assert rerun.asked_prompt() == EDITED


def test_an_edit_back_to_the_turns_prompt_stores_no_prompt_of_its_own(alice: User, alice_run: Run) -> None:
    second = edit(alice, ended(alice_run), ORIGINAL)

    assert second.prompt is None and second.asked_prompt() == ORIGINAL


def test_a_follow_up_builds_on_the_edited_prompt_and_its_answer(alice: User, alice_run: Run) -> None:
    first = ended(alice_run, "Scattering, in short.")
    ended(edit(alice, first), "Scattering at noon; a longer path through air at dusk.")
    conversation = Conversation.objects.get(pk=first.turn.conversation_id)

    assert conversation.thread_messages() == [
        {"role": "user", "content": EDITED},
        {"role": "assistant", "content": "Scattering at noon; a longer path through air at dusk."},
    ]


def test_a_follow_up_pairs_a_prompt_with_the_answer_it_got_when_the_edit_failed(
    alice: User, alice_run: Run
) -> None:
    first = ended(alice_run, "Scattering, in short.")
    failed = edit(alice, first)
    Run.objects.filter(pk=failed.pk).update(status=Run.Status.FAILED)
    conversation = Conversation.objects.get(pk=first.turn.conversation_id)

    assert conversation.thread_messages() == [
        {"role": "user", "content": ORIGINAL},
        {"role": "assistant", "content": "Scattering, in short."},
    ]


# -- the estimate beside Send is the gate's ---------------------------------------------------


def test_a_short_message_is_estimated_as_a_typical_question() -> None:
    assert prompt_tokens([], "Why?") == TYPICAL_PROMPT_TOKENS


def test_a_long_message_is_estimated_dearer_than_a_short_one() -> None:
    catalog = priced_catalog(1e-6)

    short = estimate(list(SEATS), JUDGE, WRITER, catalog, prompt_tokens=prompt_tokens([], "Why?"))
    long = estimate(list(SEATS), JUDGE, WRITER, catalog, prompt_tokens=prompt_tokens([], "Why? " * 10_000))

    assert short is not None and long is not None and long > short


def test_the_gate_reserves_the_estimate_of_the_message_as_sent(alice: User, alice_run: Run) -> None:
    panel = panel_of(alice_run)
    catalog = priced_catalog(1e-6)
    message = "Why? " * 9_999 + "Why?"

    opened = open_run(alice, Ask(None, message, panel), catalog=catalog)

    expected = estimate(
        list(panel.seats), panel.judge, panel.writer_model, catalog, prompt_tokens=prompt_tokens([], message)
    )
    assert opened.run.estimated_cost == pytest.approx(expected)
