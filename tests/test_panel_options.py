"""The panel builder's judging terms (Panel.options): checked, saved, loaded again, kept with
their seats, shown in the lineup, and a compare-only panel that needs no judge."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from chat.endpoints.catalog import Catalog, estimate_run
from chat.fusion.options import RunOptions, SeatOptions
from chat.models import Panel
from chat.panels import Draft
from chat.views import panels as panel_views
from tests.html import attr, tags, text
from tests.test_catalog_and_panels import CATALOG, post

GPT = "openai/gpt-5.5"
GEMINI = "google/gemini-3-flash-preview"


def seats_posted(*refs: str, **per_seat: list[str]) -> dict[str, Any]:
    """A builder form's seats, each with its settings fields (blank unless given)."""
    fields: dict[str, Any] = {"seats": list(refs)}
    for name in ("temperature", "reasoning_effort", "max_tokens", "seed"):
        fields[name] = per_seat.get(name, [""] * len(refs))
    return fields


def by_id(html: str, dom_id: str) -> Any:
    (found,) = [element for element in tags(html) if attr(element, "id") == dom_id]
    return found


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    async def load(*args: Any, **kwargs: Any) -> Catalog:
        return CATALOG

    monkeypatch.setattr(panel_views, "load_catalog", load)
    return CATALOG


# -- checking -------------------------------------------------------------------------------------


def test_a_quorum_above_the_number_of_seats_is_an_error_on_its_field() -> None:
    draft = Draft.from_post(post(**seats_posted(GPT, GEMINI), judge=GPT, panel_name="x", quorum="3"))
    assert not draft.validate(CATALOG, need_name=True)
    assert draft.errors["quorum"].startswith("Judge when 3 of 2 seats have answered: the panel has only 2")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quorum", "1", "at least 2"),
        ("quorum", "two", "whole number"),
        ("deadline_s", "0", "more than 0"),
        ("deadline_s", "soon", "number of seconds"),
        ("judge_instructions", "x" * 4_001, "at most 4,000 characters (these have 4,001)"),
        ("writer_instructions", "x" * 4_001, "at most 4,000 characters"),
        ("system_prompt", "x" * 4_001, "at most 4,000 characters"),
    ],
)
def test_a_wrong_term_gets_a_message_next_to_its_control(field: str, value: str, message: str) -> None:
    draft = Draft.from_post(post(**seats_posted(GPT, GEMINI), judge=GPT, panel_name="x", **{field: value}))
    assert not draft.validate(CATALOG, need_name=True)
    assert message in draft.errors[field]


def test_a_wrong_seat_setting_names_the_seat_and_the_bound() -> None:
    draft = Draft.from_post(
        post(**seats_posted(GPT, GPT, temperature=["0.5", "3"], seed=["", "-1"]), judge=GPT, panel_name="x")
    )
    assert not draft.validate(CATALOG, need_name=True)
    assert draft.errors == {
        "seat_settings_1": (
            "Seat 2: Temperature is a number from 0 to 2; seed is a whole number from 0 to 2,147,483,647."
        )
    }
    assert draft.seat_list(CATALOG)[1]["error"].startswith("Seat 2:")


def test_a_compare_only_panel_needs_no_judge_and_its_estimate_counts_the_seats_only() -> None:
    draft = Draft.from_post(post(**seats_posted(GPT, GEMINI), judge="", panel_name="x", compare_only="on"))
    assert draft.validate(CATALOG, need_name=True), draft.errors
    estimate = draft.estimate(CATALOG)
    assert estimate == estimate_run([GPT, GEMINI], "", "", CATALOG, compare_only=True)
    with_a_judge = estimate_run([GPT, GEMINI], GPT, GPT, CATALOG)
    assert estimate.cost is not None and with_a_judge.cost is not None and estimate.cost < with_a_judge.cost


def test_without_compare_only_a_judge_is_still_needed() -> None:
    draft = Draft.from_post(post(**seats_posted(GPT, GEMINI), judge="", panel_name="x"))
    assert not draft.validate(CATALOG, need_name=True)
    assert "Compare only" in draft.errors["judge"]


def test_compare_only_and_auto_fuse_together_are_refused() -> None:
    draft = Draft.from_post(
        post(**seats_posted(GPT, GEMINI), judge=GPT, panel_name="x", compare_only="on", auto_fuse="on")
    )
    assert not draft.validate(CATALOG, need_name=True)
    assert "compare-only panel has none" in draft.errors["auto_fuse"]


# -- seats keep their own settings ----------------------------------------------------------------


def test_moving_and_removing_seats_keeps_each_seats_settings_and_key_with_it() -> None:
    draft = Draft.from_post(
        post(
            **seats_posted(
                GPT, GPT, GEMINI, temperature=["0.2", "1.4", ""], reasoning_effort=["", "", "high"]
            ),
            seat_key=["0", "1", "2"],
        )
    )
    draft.apply(post(seat_up="1"))  # the 1.4 seat goes first
    draft.apply(post(seat_remove="1"))  # the 0.2 seat goes
    assert draft.seats == [GPT, GEMINI]
    assert [seat.temperature for seat in draft.terms.seats] == ["1.4", ""]
    assert draft.terms.seats[1].reasoning_effort == "high"
    assert draft.seat_keys == [1, 2]
    draft.apply(post(add=GEMINI))
    assert draft.seat_keys == [1, 2, 3] and draft.terms.seats[2].temperature == ""


# -- saving and loading ---------------------------------------------------------------------------

POSTED = {
    **seats_posted(
        GPT,
        GPT,
        GEMINI,
        temperature=["0.4", "1.2", ""],
        reasoning_effort=["", "high", ""],
        max_tokens=["", "800", ""],
        seed=["", "7", ""],
    ),
    "judge": GEMINI,
    "panel_name": "Twins",
    "quorum": "2",
    "deadline_s": "20",
    "late_seats": "stop",
    "judge_instructions": "  Numbers and dates.\nLegal risk.  ",
    "writer_instructions": "A one-page memo for the board.",
    "system_prompt": "Answer in English.",
}
STORED = {
    "quorum": 2,
    "deadline_s": 20.0,
    "late_seats": "stop",
    "judge_instructions": "Numbers and dates.\nLegal risk.",
    "writer_instructions": "A one-page memo for the board.",
    "system_prompt": "Answer in English.",
    # The third seat has no settings: it samples as the run does, and no entry is kept for it.
    "seats": [
        {"temperature": 0.4},
        {"temperature": 1.2, "reasoning_effort": "high", "max_tokens": 800, "seed": 7},
    ],
}


def test_the_terms_are_saved_as_the_panels_options_and_load_again_unchanged(alice: User) -> None:
    draft = Draft.from_post(post(**POSTED))
    assert draft.validate(CATALOG, need_name=True), draft.errors
    panel = draft.save(alice)
    panel.refresh_from_db()
    assert panel.options == STORED
    assert panel.run_options.for_seat(1) == SeatOptions(
        temperature=1.2, reasoning_effort="high", max_tokens=800, seed=7
    )

    again = Draft.from_panel(panel)
    assert again.terms.quorum == "2" and again.terms.deadline_s == "20"
    assert [seat.temperature for seat in again.terms.seats] == ["0.4", "1.2", ""]
    again.save(alice)  # saved unchanged, as the builder does with a loaded panel
    panel.refresh_from_db()
    assert panel.options == STORED


def test_a_panel_without_terms_stores_no_options(alice: User) -> None:
    panel = Draft.from_post(post(**seats_posted(GPT, GEMINI), judge=GPT, panel_name="Plain")).save(alice)
    assert panel.options == {}
    assert panel.run_options == RunOptions()


def test_saving_through_the_view_stores_the_terms(as_alice: Client, alice: User, catalog: Catalog) -> None:
    response = as_alice.post("/panels/save/", POSTED)
    assert response.status_code == 302
    assert Panel.objects.get(owner=alice, name="Twins").options == STORED


def test_a_quorum_above_the_seats_is_refused_by_the_view_and_saves_nothing(
    as_alice: Client, alice: User, catalog: Catalog
) -> None:
    response = as_alice.post("/panels/save/", {**POSTED, "quorum": "5"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Judge when 5 of 3 seats have answered" in text(by_id(html, "quorum-error"))
    assert attr(by_id(html, "quorum"), "aria-invalid") == "true"
    assert not Panel.objects.filter(owner=alice).exists()


def test_editing_a_saved_panel_shows_its_terms(as_alice: Client, alice: User, catalog: Catalog) -> None:
    panel = Panel.objects.create(
        owner=alice, name="Twins", seats=[GPT, GPT, GEMINI], judge=GEMINI, options=STORED
    )
    html = as_alice.get(f"/panels/{panel.pk}/edit/").content.decode()
    assert attr(by_id(html, "quorum"), "value") == "2"
    assert attr(by_id(html, "deadline-s"), "value") == "20"
    assert "checked" in dict(by_id(html, "late-seats-stop").attributes)
    assert text(by_id(html, "judge-instructions")) == "Numbers and dates. Legal risk."
    assert attr(by_id(html, "seat-0-temperature"), "value") == "0.4"
    assert attr(by_id(html, "seat-1-temperature"), "value") == "1.2"
    assert attr(by_id(html, "seat-2-temperature"), "value") == ""
    assert "temp 1.2 · effort high" in text(by_id(html, "seat-1-settings"))
    assert "judge at 2 of 3 or 20 s" in text(by_id(html, "judging-terms"))
    assert "slowest seats are often the strongest" in text(by_id(html, "slow-seats-warning"))


def test_the_slow_seats_warning_shows_only_with_a_quorum_or_a_deadline(
    as_alice: Client, catalog: Catalog
) -> None:
    plain = {**seats_posted(GPT, GEMINI), "judge": GPT}
    without = as_alice.post("/panels/builder/", plain).content.decode()
    with_quorum = as_alice.post("/panels/builder/", {**plain, "quorum": "2"}).content.decode()
    assert 'id="slow-seats-warning"' not in without
    assert 'id="slow-seats-warning"' in with_quorum


def test_the_admin_refuses_a_panel_without_a_judge_unless_it_is_compare_only() -> None:
    with pytest.raises(ValidationError, match="needs a judge"):
        Panel(name="x", seats=[GPT, GEMINI], judge="").clean()
    with pytest.raises(ValidationError, match="Not valid judging terms"):
        Panel(name="x", seats=[GPT, GEMINI], judge=GPT, options={"quorum": 1}).clean()
    Panel(name="x", seats=[GPT, GEMINI], judge="", options={"compare_only": True}).clean()


# -- the lineup -----------------------------------------------------------------------------------


def test_a_compare_only_panel_says_so_where_the_judge_would_be() -> None:
    panel = Panel(name="Side by side", seats=["a/x", "b/y"], judge="", options={"compare_only": True})
    assert panel.lineup() == "Side by side: x, y · compare only"


def test_a_lineup_mentions_a_quorum_and_a_deadline() -> None:
    panel = Panel(name="Quick", seats=["a/x", "b/y", "c/z"], judge="a/x", options={"quorum": 2})
    assert panel.lineup() == "Quick: x, y, z → judge x · judge at 2 of 3"
    panel.options = {"quorum": 2, "deadline_s": 20}
    assert panel.lineup().endswith(" · judge at 2 of 3 or 20 s")


def test_your_panels_says_compare_only_and_the_quorum(as_alice: Client, alice: User) -> None:
    Panel.objects.create(
        owner=alice, name="Side", seats=[GPT, GEMINI], judge="", options={"compare_only": True}
    )
    Panel.objects.create(
        owner=alice, name="Quick", seats=[GPT, GPT, GEMINI], judge=GPT, options={"quorum": 2}
    )
    html = as_alice.get("/panels/").content.decode()

    def row_of(name: str) -> str:
        (row,) = [
            row
            for row in tags(html)
            if row.name == "tr" and any(attr(element, "value") == name for element in tags(str(row)))
        ]
        return text(row)

    assert "compare only" in row_of("Side")
    assert "judge at 2 of 3" in row_of("Quick") and "compare only" not in row_of("Quick")


def test_the_composers_auto_fuse_toggle_never_makes_a_compare_only_run() -> None:
    panel = Panel(name="Compare", seats=["a/one", "b/two"], judge="", options={"compare_only": True})
    assert panel.auto_fuse_for(True) is False
    assert Panel(name="Fuse", seats=["a/one", "b/two"], judge="j/j").auto_fuse_for(True) is True
