"""Auto-fuse in the chatroom: the panel option, the estimate, a run's rows and live frames, and its
page (owner's and shared), Markdown and JSON, for a run whose model consulted the panel and one
whose model answered alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from chat import export, formatting, sharing
from chat.fusion.events import (
    AnalysisStarted,
    FusedDelta,
    FusedStarted,
    PanelConsulted,
    PanelNotConsulted,
    SeatStarted,
)
from chat.models import Conversation, Panel, Run, SeatAnswer
from chat.panels import Draft
from chat.runs import gate
from chat.runs.creation import create_retry, create_turn_and_run
from chat.runs.frames import Frames
from chat.runs.lifecycle import Ask, open_run
from chat.runs.protocol import column_dom_id, run_dom_id
from chat.runs.state import RunState
from chat.views import composer as composer_views
from tests.fakes import JUDGE, SEATS, WRITER
from tests.html import attr, tags, text
from tests.runs.test_start_gate_races import priced_catalog
from tests.sharing_data import ANALYSIS, stats
from tests.test_catalog_and_panels import CATALOG, post

pytestmark = pytest.mark.django_db

QUERY = 'For a team of twelve, is a monorepo right? <script>alert("q")</script>'
ANSWER = "Take the monorepo, with ownership rules."
ALONE = "Hello to you too."


@pytest.fixture
def auto_panel(alice: User) -> Panel:
    return Panel.objects.create(
        owner=alice, name="Auto", seats=list(SEATS), judge=JUDGE, writer=WRITER, auto_fuse=True
    )


def auto_run(panel: Panel, prompt: str) -> Run:
    """A new run of the Auto-fuse panel, still running, that no task executes."""
    return create_turn_and_run(Conversation.objects.create(owner=panel.owner), prompt, panel, simulated=False)


def finished_auto_run(panel: Panel, *, query: str | None, prompt: str = "Monorepo or not?") -> Run:
    """A finished Auto-fuse run: the panel consulted with `query`, or answered alone (None)."""
    conversation = Conversation.objects.create(owner=panel.owner, title="Auto")
    run = create_turn_and_run(conversation, prompt, panel, simulated=False)
    consulted = query is not None
    run.consult_query = query
    run.status, run.stage, run.finished_at = Run.Status.DONE, Run.Stage.FINISHED, timezone.now()
    run.note = ""
    run.fused_text = ANSWER if consulted else ALONE
    run.fused_stats = stats(WRITER, 0.002)
    if consulted:
        run.analysis, run.analysis_stats = ANALYSIS.model_dump(), stats(JUDGE, 0.001)
        run.answers.update(status=SeatAnswer.Status.DONE, text="A seat's answer.")
    run.save()
    return run


def has(element: Any, name: str) -> bool:
    """Whether the element carries the attribute (a boolean one has no value)."""
    return name in dict(element.attributes)


def regions(html: str) -> list[str]:
    """The labels of the sections a reader is shown (hidden placeholders left out)."""
    return [
        attr(element, "aria-label") or ""
        for element in tags(html)
        if element.name == "section" and not has(element, "hidden")
    ]


def by_id(html: str, dom_id: str) -> Any:
    (found,) = [element for element in tags(html) if attr(element, "id") == dom_id]
    return found


# -- the panel option and the estimate -----------------------------------------------------------


def test_the_builder_saves_auto_fuse_with_the_panel_and_shows_it_again(alice: User) -> None:
    draft = Draft.from_post(post(seats=list(SEATS[:2]), judge=JUDGE, panel_name="Auto", auto_fuse="on"))
    panel = draft.save(alice)

    panel.refresh_from_db()
    assert panel.auto_fuse
    again = Draft.from_panel(panel)
    assert again.auto_fuse
    html = render_to_string("chat/builder.html#builder", {"draft": again, "seats": [], "catalog": CATALOG})
    assert has(by_id(html, "auto-fuse"), "checked")
    assert panel.lineup().endswith(" · auto-fuse")


def test_a_panel_saved_without_the_box_ticked_is_not_auto_fuse(alice: User, auto_panel: Panel) -> None:
    draft = Draft.from_post(
        post(seats=list(SEATS[:2]), judge=JUDGE, panel_name="Auto", panel_id=str(auto_panel.pk))
    )
    draft.save(alice)

    auto_panel.refresh_from_db()
    assert not auto_panel.auto_fuse


def test_the_estimate_counts_an_auto_fuse_writer_twice() -> None:
    gpt = "openai/gpt-5.5"
    plain = gate.estimate([gpt, gpt], gpt, gpt, CATALOG)
    auto = gate.estimate([gpt, gpt], gpt, gpt, CATALOG, auto_fuse=True)
    writer = (400 + 1800 + 1200) * 5e-6 + 1000 * 30e-6
    assert plain is not None and auto is not None
    assert auto == pytest.approx(plain + writer)
    assert Draft(seats=[gpt, gpt], judge=gpt, auto_fuse=True).estimate(CATALOG).cost == pytest.approx(auto)


def test_the_start_gate_reserves_the_auto_fuse_estimate(alice: User) -> None:
    gpt = "openai/gpt-5.5"
    panel = Panel.objects.create(owner=alice, name="Auto", seats=[gpt, gpt], judge=gpt, auto_fuse=True)

    opened = open_run(alice, Ask(None, "Monorepo or not?", panel), catalog=CATALOG)

    expected = gate.estimate([gpt, gpt], gpt, gpt, CATALOG, auto_fuse=True)
    assert opened.run.estimated_cost == pytest.approx(expected)


# -- the rows ------------------------------------------------------------------------------------


def test_an_auto_fuse_run_begins_with_its_model_answering(auto_panel: Panel) -> None:
    run = auto_run(auto_panel, "Hi")
    assert (run.auto_fuse, run.stage, run.consult_query) == (True, Run.Stage.FUSED, None)


def test_a_retry_of_an_auto_fuse_run_asks_the_panel_afresh(auto_panel: Panel) -> None:
    earlier = finished_auto_run(auto_panel, query=QUERY)

    retry = create_retry(earlier, simulated=False)

    assert retry.auto_fuse and retry.stage == Run.Stage.FUSED and retry.consult_query is None
    # Its model may write another query: the answers to this one are not kept.
    assert {(answer.status, answer.text, answer.reused) for answer in retry.answers.all()} == {
        (SeatAnswer.Status.WAITING, "", False)
    }


def test_seats_a_model_never_consulted_are_not_ended_as_stopped(auto_panel: Panel) -> None:
    stopped_here = auto_run(auto_panel, "Hi")
    swept = auto_run(auto_panel, "Hey")
    answers = list(stopped_here.answers.all())

    _, changed = stopped_here.end(Run.Status.STOPPED, note="Stopped.", answers=answers)
    Run.objects.filter(pk=swept.pk).end(Run.Status.INTERRUPTED, note="Gone.", began=True)

    assert changed == {}
    assert set(SeatAnswer.objects.filter(run=swept).values_list("status", flat=True)) == {"waiting"}


# -- the live run ----------------------------------------------------------------------------------


@pytest.fixture
def live(auto_panel: Panel) -> RunState:
    run = auto_run(auto_panel, "Monorepo?")
    return RunState(run, list(run.answers.order_by("index")))


def test_a_consultation_is_saved_and_brings_the_query_and_the_seats_columns(live: RunState) -> None:
    frames = Frames(live)
    frames.show(live.apply(FusedStarted(model=WRITER)))

    shown = "".join(frames.show(live.apply(PanelConsulted(model=WRITER, query=QUERY))))

    run_values, _ = live.take_dirty()
    assert run_values["consult_query"] == QUERY and run_values["stage"] == Run.Stage.PANEL
    consult = by_id(shown, run_dom_id(live.run.pk, "consult"))
    assert text(consult).startswith("Consulting the panel…")
    assert QUERY in text(consult), "the query is shown as its text"
    assert not [element for element in tags(shown) if element.name == "script"]
    assert "&lt;script&gt;" in shown
    panel = by_id(shown, run_dom_id(live.run.pk, "panel"))
    assert not has(panel, "hidden")
    columns = [attr(element, "id") for element in tags(str(panel)) if element.name == "section"]
    assert columns == [column_dom_id(live.run.pk, seat) for seat in range(len(SEATS))]
    assert "The panel is answering" in shown


def test_the_model_going_on_after_the_analysis_is_the_answers_stage_again(live: RunState) -> None:
    frames = Frames(live)
    for event in (
        FusedStarted(model=WRITER),
        PanelConsulted(model=WRITER, query=QUERY),
        SeatStarted(seat=0, model=SEATS[0]),
        AnalysisStarted(model=JUDGE),
    ):
        frames.show(live.apply(event))

    shown = "".join(frames.show(live.apply(FusedDelta(text="From the panel: "))))

    assert live.run.stage == Run.Stage.FUSED
    assert "Consulted the panel" in text(by_id(shown, run_dom_id(live.run.pk, "consult")))
    assert f"{WRITER} is answering from the panel’s analysis" in shown


def test_a_model_that_answers_alone_says_so_and_shows_no_seats(live: RunState) -> None:
    frames = Frames(live)
    frames.show(live.apply(FusedStarted(model=WRITER)))

    shown = "".join(frames.show(live.apply(PanelNotConsulted(model=WRITER, reason="It answered alone."))))

    assert "Answered without consulting the panel" in text(by_id(shown, run_dom_id(live.run.pk, "consult")))
    whole = frames.run_frame()
    assert has(by_id(whole, run_dom_id(live.run.pk, "panel")), "hidden")
    assert not [label for label in regions(whole) if label.startswith("Seat")]


# -- the saved run's page, shared page, Markdown and JSON -------------------------------------------


def test_a_run_that_did_not_consult_shows_its_answer_and_no_empty_seat_columns(
    as_alice: Client, auto_panel: Panel
) -> None:
    run = finished_auto_run(auto_panel, query=None)

    html = as_alice.get(run.turn.conversation.get_absolute_url()).content.decode()

    assert "Answered without consulting the panel" in text(by_id(html, run_dom_id(run.pk, "consult")))
    assert not [label for label in regions(html) if label.startswith("Seat") or label == "Analysis"]
    answer = by_id(html, column_dom_id(run.pk, "fused"))
    assert attr(answer, "aria-label") == "Answer"
    assert text(answer).startswith(f"Answer · {WRITER} · without the panel")
    assert ALONE in text(answer)
    stages = [text(element) for element in tags(html) if element.name == "ol"]
    assert stages == ["Answer"]
    # A retry asks the model again (not "Retry failed seats": no seat failed).
    assert "Retry failed seats" not in html


def test_a_consulted_run_shows_the_query_the_seats_the_analysis_and_the_models_answer(
    as_alice: Client, auto_panel: Panel
) -> None:
    run = finished_auto_run(auto_panel, query=QUERY)

    html = as_alice.get(run.turn.conversation.get_absolute_url()).content.decode()

    consult = by_id(html, run_dom_id(run.pk, "consult"))
    assert text(consult).startswith("Consulted the panel")
    assert (
        QUERY in text(consult) and "<script>" not in html.split("consult-query")[1].split("</blockquote>")[0]
    )
    labels = regions(html)
    assert [label for label in labels if label.startswith("Seat")] == [
        f"Seat {number}: {model}" for number, model in enumerate(SEATS, start=1)
    ]
    assert "Analysis" in labels
    answer = by_id(html, column_dom_id(run.pk, "fused"))
    assert text(answer).startswith(f"Answer · {WRITER} · consulted the panel")
    stages = [text(element) for element in tags(html) if element.name == "ol"]
    assert stages == ["Panel Analysis Answer"]


def test_the_share_page_shows_an_auto_fuse_run_the_same_and_read_only(
    client: Client, auto_panel: Panel
) -> None:
    run = finished_auto_run(auto_panel, query=QUERY)
    link = sharing.create_link(run.turn.conversation)

    html = client.get(f"/s/{link.token}/").content.decode()

    assert text(by_id(html, run_dom_id(run.pk, "consult"))).startswith("Consulted the panel")
    assert QUERY in html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert text(by_id(html, column_dom_id(run.pk, "fused"))).startswith(f"Answer · {WRITER}")
    assert "Retry" not in html and "Re-run" not in html


def test_markdown_says_whether_the_model_consulted_the_panel_and_with_which_query(
    as_alice: Client, auto_panel: Panel
) -> None:
    consulted = finished_auto_run(auto_panel, query="Is a monorepo right?")
    alone = finished_auto_run(auto_panel, query=None, prompt="Hi")

    consulted_md = as_alice.get(f"/c/{consulted.turn.conversation.pk}/export.md").content.decode()
    alone_md = as_alice.get(f"/c/{alone.turn.conversation.pk}/export.md").content.decode()

    assert (
        f"Auto-fuse: {WRITER} consulted the panel with this query:\n\n> Is a monorepo right?\n"
        in consulted_md
    )
    assert "### Seat 1: " in consulted_md and "### Analysis" in consulted_md
    assert f"### Answer (by {WRITER}, after consulting the panel)\n\n{ANSWER}" in consulted_md
    assert f"Auto-fuse: {WRITER} answered without consulting the panel." in alone_md
    assert "### Seat" not in alone_md and "### Analysis" not in alone_md
    assert f"### Answer (by {WRITER})\n\n{ALONE}" in alone_md


def test_json_keeps_auto_fuse_and_the_query_through_an_import(
    as_alice: Client, alice: User, auto_panel: Panel
) -> None:
    run = finished_auto_run(auto_panel, query=QUERY)

    document = json.loads(as_alice.get(f"/c/{run.turn.conversation.pk}/export.json").content)
    (saved,) = document["turns"][0]["runs"]
    copy = export.import_document(export.parse_document(json.dumps(document).encode()), alice)

    assert (saved["auto_fuse"], saved["consult_query"]) == (True, QUERY)
    imported = Run.objects.get(turn__conversation=copy)
    assert (imported.auto_fuse, imported.consult_query) == (True, QUERY)


def test_an_old_export_without_auto_fuse_imports_as_a_panel_run(
    alice: User, make_run: Callable[..., Run]
) -> None:
    run = make_run(alice)
    document = export.conversation_document(run.turn.conversation).model_dump(mode="json")
    for turn in document["turns"]:
        for saved in turn["runs"]:
            del saved["auto_fuse"], saved["consult_query"], saved["write_answer"]

    copy = export.import_document(export.parse_document(json.dumps(document).encode()), alice)

    imported = Run.objects.get(turn__conversation=copy)
    assert (imported.auto_fuse, imported.consult_query, imported.write_answer) == (False, None, True)


# -- the composer's toggle -------------------------------------------------------------------------


@pytest.fixture
def started_runs(run_services: Callable[..., None]) -> list[int]:
    """Runs the views asked to start; nothing actually runs."""
    started: list[int] = []
    run_services(dispatch=lambda run_id, *args: started.append(run_id))
    return started


def sent_run(client: Client, panel: Panel, *toggle: str, path: str = "/send/") -> Run:
    data: dict[str, Any] = {"message": "Monorepo or not?", "panel": panel.pk}
    if toggle:
        data["auto_fuse"] = list(toggle)
    response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()
    return Run.objects.latest("pk")


@pytest.mark.parametrize(
    ("toggle", "panel_is_auto", "expected"),
    [
        (("false", "true"), False, True),  # ticked: this message is Auto-fuse, whatever the panel
        (("false",), True, False),  # unticked: an Auto-fuse panel answers as a panel this time
        ((), True, True),  # no toggle sent (a page without it): the panel's own setting
        ((), False, False),
    ],
)
def test_the_composers_toggle_decides_whether_the_message_is_auto_fuse(
    as_alice: Client,
    auto_panel: Panel,
    started_runs: list[int],
    toggle: tuple[str, ...],
    panel_is_auto: bool,
    expected: bool,
) -> None:
    auto_panel.auto_fuse = panel_is_auto
    auto_panel.save()

    run = sent_run(as_alice, auto_panel, *toggle)

    assert (run.auto_fuse, run.stage) == (expected, Run.first_stage(expected))
    assert started_runs == [run.pk]


def test_a_rerun_with_the_toggle_ticked_is_auto_fuse(
    as_alice: Client, presets: dict[str, Panel], auto_panel: Panel, started_runs: list[int]
) -> None:
    first = sent_run(as_alice, presets["Budget"], "false")
    Run.objects.filter(pk=first.pk).update(status=Run.Status.DONE)

    response = as_alice.post(
        f"/turns/{first.turn_id}/rerun/", {"panel": presets["Budget"].pk, "auto_fuse": ["false", "true"]}
    )

    assert response.status_code == 302
    rerun = Run.objects.latest("pk")
    assert rerun.retry_of == first and rerun.auto_fuse and not first.auto_fuse


def test_the_toggle_starts_as_the_chosen_panel_and_a_follow_up_as_the_last_run(
    as_alice: Client, auto_panel: Panel, presets: dict[str, Panel], started_runs: list[int]
) -> None:
    def ticked(path: str) -> bool:
        html = as_alice.get(path).content.decode()
        return has(by_id(html, "id_auto_fuse"), "checked")

    assert ticked(f"/?panel={auto_panel.pk}")
    assert not ticked(f"/?panel={presets['Budget'].pk}")
    run = sent_run(as_alice, presets["Budget"], "false", "true")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE)
    assert ticked(run.turn.conversation.get_absolute_url())
    html = as_alice.get("/").content.decode()
    option = next(element for element in tags(html) if attr(element, "value") == str(auto_panel.pk))
    assert attr(option, "data-auto-fuse") == "true"


def test_the_composers_estimate_counts_the_writer_twice_when_the_toggle_is_ticked(
    as_alice: Client, auto_panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = priced_catalog(1e-6)

    async def load(endpoints: object) -> Any:
        return catalog

    monkeypatch.setattr(composer_views, "load_catalog", load)

    def shown(*toggle: str) -> str:
        data = {"message": "Monorepo or not?", "panel": auto_panel.pk, "auto_fuse": list(toggle)}
        return text(tags(as_alice.post("/estimate/", data).content.decode())[0])

    seats, judge, writer = list(SEATS), JUDGE, WRITER
    auto = gate.estimate(seats, judge, writer, catalog, auto_fuse=True)
    assert shown("false", "true") == f"≈ {formatting.dollars(auto)}"
    # Unticked, the Auto-fuse panel is estimated as a panel run this time.
    assert shown("false") == f"≈ {formatting.dollars(gate.estimate(seats, judge, writer, catalog))}"
    assert shown() == f"≈ {formatting.dollars(auto)}", "no toggle sent: the panel's own setting"


def test_your_panels_marks_an_auto_fuse_panel(as_alice: Client, auto_panel: Panel) -> None:
    Panel.objects.create(owner=auto_panel.owner, name="Plain", seats=list(SEATS), judge=JUDGE)

    html = as_alice.get("/panels/").content.decode()

    def row_of(name: str) -> str:
        (row,) = [
            row
            for row in tags(html)
            if row.name == "tr" and any(attr(element, "value") == name for element in tags(str(row)))
        ]
        return text(row)

    assert "auto-fuse" in row_of("Auto")
    assert "auto-fuse" not in row_of("Plain")
