"""The composer's views: a refusal comes back in place of the composer, Stop while a run goes,
the character limit, the estimate beside Send, and editing the last prompt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.test.html import Element, parse_html

from chat import formatting
from chat.forms import MAX_PROMPT_CHARS
from chat.models import Panel, Run, SpendBudget
from chat.runs.gate import estimate, prompt_tokens
from chat.runs.lifecycle import BUSY_FOLLOW_UP, NOT_LAST_TURN
from chat.views import composer as composer_views
from tests.conftest import saved_rows
from tests.html import attr, elements, text
from tests.runs.test_start_gate_races import priced_catalog

HTMX = {"HX-Request": "true"}


def page(response: Any) -> Element:
    return parse_html(response.content.decode())


def by_id(root: Element, dom_id: str) -> Element:
    (found,) = [el for el in elements(root) if attr(el, "id") == dom_id]
    return found


def message_box(root: Element) -> Element:
    (box,) = [el for el in elements(root) if el.name == "textarea" and attr(el, "name") == "message"]
    return box


def buttons(root: Element, label: str) -> list[Element]:
    return [el for el in elements(by_id(root, "composer")) if el.name == "button" and text(el) == label]


@pytest.fixture(autouse=True)
def started_runs(run_services: Callable[..., None]) -> list[int]:
    started: list[int] = []
    run_services(dispatch=lambda run_id, *args: started.append(run_id))
    return started


@pytest.fixture
def ended_run(alice_run: Run) -> Run:
    Run.objects.filter(pk=alice_run.pk).update(status=Run.Status.DONE, fused_text="Scattering.")
    alice_run.refresh_from_db()
    return alice_run


def send(client: Client, run: Run, message: str, **headers: str) -> Any:
    url = f"/c/{run.turn.conversation_id}/send/"
    return client.post(url, {"message": message, "panel": run.panel_id}, headers=headers)


# -- a refused send ---------------------------------------------------------------------------


def test_a_refused_htmx_send_replaces_the_composer_instead_of_joining_the_thread(
    as_alice: Client, ended_run: Run
) -> None:
    response = send(as_alice, ended_run, "   ", **HTMX)

    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#composer"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert attr(page(response), "id") == "composer"


def test_a_refused_send_without_javascript_is_the_whole_page_with_the_text_in_the_composer(
    as_alice: Client, ended_run: Run
) -> None:
    SpendBudget.objects.create(user=ended_run.turn.conversation.owner, period="day", limit_usd=0)

    response = send(as_alice, ended_run, "And the rollback?")

    composer = by_id(page(response), "composer")
    (alert,) = [el for el in elements(composer) if attr(el, "role") == "alert"]
    assert response.status_code == 422
    assert text(message_box(composer)) == "And the rollback?"
    assert "over your daily budget" in text(alert)


def test_a_message_over_the_limit_is_refused_and_comes_back_whole(as_alice: Client, ended_run: Run) -> None:
    before = saved_rows()
    pasted = "w" * (MAX_PROMPT_CHARS + 20_000)

    response = send(as_alice, ended_run, pasted, **HTMX)

    assert response.status_code == 422
    assert f"{MAX_PROMPT_CHARS + 20_000:,} characters long, over the limit of {MAX_PROMPT_CHARS:,}" in text(
        page(response)
    )
    assert text(message_box(page(response))) == pasted
    assert saved_rows() == before


def test_the_message_box_does_not_cut_a_paste_and_tells_the_counter_the_limit(
    as_alice: Client, presets: dict[str, Panel]
) -> None:
    box = message_box(page(as_alice.get("/")))

    assert attr(box, "maxlength") is None
    assert attr(box, "data-limit") == str(MAX_PROMPT_CHARS)


# -- Send becomes Stop --------------------------------------------------------------------------


def test_a_follow_up_while_the_run_goes_is_refused_with_the_text_kept(
    as_alice: Client, alice_run: Run, started_runs: list[int]
) -> None:
    before = saved_rows()

    response = send(as_alice, alice_run, "And then?", **HTMX)

    assert response.status_code == 422
    assert BUSY_FOLLOW_UP in text(page(response))
    assert text(message_box(page(response))) == "And then?"
    assert saved_rows() == before and started_runs == []


def test_while_a_run_goes_the_composer_offers_stop_for_that_run(as_alice: Client, alice_run: Run) -> None:
    root = page(as_alice.get(f"/c/{alice_run.turn.conversation_id}/"))

    composer = by_id(root, "composer")
    (stop,) = buttons(root, "Stop")
    assert attr(composer, "data-busy") is not None
    assert attr(stop, "formaction") == f"/runs/{alice_run.pk}/stop/"


def test_once_the_run_ended_the_composer_offers_send(as_alice: Client, ended_run: Run) -> None:
    root = page(as_alice.get(f"/c/{ended_run.turn.conversation_id}/"))

    assert attr(by_id(root, "composer"), "data-busy") is None
    assert len(buttons(root, "Send")) == 1


def test_a_running_runs_section_names_its_stop_address_for_the_composer(
    as_alice: Client, alice_run: Run
) -> None:
    root = page(as_alice.get(f"/c/{alice_run.turn.conversation_id}/"))

    (section,) = [
        el for el in elements(root) if el.name == "section" and attr(el, "data-status") == "running"
    ]
    assert attr(section, "data-stop-url") == f"/runs/{alice_run.pk}/stop/"


# -- the estimate ---------------------------------------------------------------------------------


def test_the_estimate_beside_send_is_the_gates_for_the_message_as_typed(
    as_alice: Client, ended_run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = priced_catalog(1e-6)

    async def load(endpoints: object) -> Any:
        return catalog

    monkeypatch.setattr(composer_views, "load_catalog", load)
    message = "Summarise this. " * 2_000
    panel = ended_run.panel
    assert panel is not None

    response = as_alice.post(
        f"/c/{ended_run.turn.conversation_id}/estimate/",
        {"message": message, "panel": panel.pk},
        headers=HTMX,
    )

    thread = ended_run.turn.conversation.thread_messages()
    expected = estimate(
        list(panel.seats),
        panel.judge,
        panel.writer_model,
        catalog,
        prompt_tokens=prompt_tokens(thread, message.strip()),
    )
    assert text(page(response)) == f"≈ {formatting.dollars(expected)}"


def test_no_estimate_for_a_panel_that_is_not_the_users(as_alice: Client, bob: User) -> None:
    bobs = Panel.objects.create(owner=bob, name="Bob's", seats=["openai/gpt-5.5"], judge="openai/gpt-5.5")

    response = as_alice.post("/estimate/", {"message": "Hi", "panel": bobs.pk}, headers=HTMX)

    assert response.status_code == 200 and text(page(response)) == ""


# -- edit the last prompt and ask again -----------------------------------------------------------


def test_editing_the_last_prompt_starts_a_run_of_its_turn_and_shows_both(
    as_alice: Client, ended_run: Run, started_runs: list[int]
) -> None:
    response = as_alice.post(
        f"/turns/{ended_run.turn_id}/edit/",
        {"message": "Why is the sky red at dusk?", "panel": ended_run.panel_id},
        headers=HTMX,
    )

    new = Run.objects.exclude(pk=ended_run.pk).get()
    assert started_runs == [new.pk]
    assert new.turn_id == ended_run.turn_id and new.prompt == "Why is the sky red at dusk?"
    body = text(page(response))
    assert "Earlier run 1 of 2" in body and "an edited prompt" in body
    assert "Why is the sky blue?" in body  # the earlier run shows the prompt it was asked


def test_an_edit_that_may_not_start_comes_back_in_its_editor_with_the_text(
    as_alice: Client, ended_run: Run, presets: dict[str, Panel]
) -> None:
    send(as_alice, ended_run, "And then?")  # a later turn: the first prompt is no longer the last
    before = saved_rows()

    response = as_alice.post(
        f"/turns/{ended_run.turn_id}/edit/",
        {"message": "Why is the sky red?", "panel": ended_run.panel_id},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == f"#edit-{ended_run.turn_id}"
    assert NOT_LAST_TURN in text(page(response))
    assert text(message_box(page(response))) == "Why is the sky red?"
    assert saved_rows() == before


def test_bob_cannot_edit_alices_prompt(as_bob: Client, ended_run: Run) -> None:
    before = saved_rows()

    response = as_bob.post(
        f"/turns/{ended_run.turn_id}/edit/", {"message": "Mine now", "panel": ended_run.panel_id}
    )

    assert response.status_code == 404
    assert saved_rows() == before


def test_a_long_prompt_is_shown_by_its_first_lines_with_show_all(
    as_alice: Client, make_run: Any, alice: User
) -> None:
    run = make_run(alice, "\n".join(f"Line {number}" for number in range(1, 301)))

    root = page(as_alice.get(f"/c/{run.turn.conversation_id}/"))

    (head,) = [el for el in elements(root) if attr(el, "class") == "prompt-head"]
    assert "Line 8" in text(head) and "Line 9" not in text(head)
    (summary,) = [el for el in elements(root) if el.name == "summary" and text(el).startswith("Show all")]
    assert "Line 300" in text(root)
