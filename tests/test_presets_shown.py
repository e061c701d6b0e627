"""Which models sit in each panel, shown outside the admin: the composer's picker and the panels page."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from chat.models import Panel
from tests.html import attr, tags

BUDGET_LINEUP = "Budget: gemini-3-flash-preview, kimi-k2.6, deepseek-v4-pro → judge gemini-3-flash-preview"


def test_a_lineup_names_the_seats_and_the_judge(presets: dict[str, Panel]) -> None:
    assert presets["Budget"].lineup() == BUDGET_LINEUP


def test_a_lineup_names_a_separate_writer_and_web_search() -> None:
    panel = Panel(name="Mine", seats=["a/x", "b/y"], judge="a/x", writer="c/z", web_search=True)

    assert panel.lineup() == "Mine: x, y → judge x, writer z · web search"


def test_each_option_of_the_panel_picker_says_who_sits_in_it(
    as_alice: Client, presets: dict[str, Panel]
) -> None:
    html = as_alice.get("/").content.decode()

    options = {attr(el, "value"): el for el in tags(html) if el.name == "option"}
    budget = options[str(presets["Budget"].pk)]
    assert attr(budget, "title") == BUDGET_LINEUP
    assert attr(budget, "data-lineup") == BUDGET_LINEUP
    assert 'id="panel-lineup"' in html and 'aria-describedby="panel-lineup"' in html


def test_the_panels_page_lists_the_presets_with_their_seats_judge_and_writer(
    as_alice: Client, presets: dict[str, Panel]
) -> None:
    html = as_alice.get("/panels/").content.decode()

    section = html.split('id="presets-heading"', 1)[1]
    for name, panel in presets.items():
        assert f'<th scope="row">{name}</th>' in section
        for seat in panel.seats:
            assert f"<code>{seat}</code>" in section
    assert "the judge" in section  # no separate writer


def test_the_panels_page_lists_the_presets_beside_a_users_own(
    as_alice: Client, alice: User, presets: dict[str, Panel]
) -> None:
    Panel.objects.create(owner=alice, name="Mine", seats=["a/x", "b/y"], judge="a/x")

    html = as_alice.get("/panels/").content.decode()

    assert html.index('value="Mine"') < html.index('id="presets-heading"')
